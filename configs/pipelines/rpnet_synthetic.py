# RPNet through all three stages on the embedded synthetic benchmark (CPU).
#   python tools/pipeline.py configs/pipelines/rpnet_synthetic.py --work-dir work_dirs/rpnet
#
# Stage 1 trains the tiny classifier with RPNet's head on pairs of images sharing a class
# (ClassPairSampler, group size 2; same backbone, data and optimiser as the CAM baseline).
# Stage 2 infers the original branch on single images with RPNet's views (scales 1, 0.5, 1.5,
# 2 and flips) aggregated as the code's make_cam (each mirror flipped back on the feature
# grid, every scale resized once; aggregation='feature_grid'), then the CAM
# baseline's labels (background threshold 0.3 + DenseCRF) so that the row compares with the
# CAM row; DeepLab-LargeFOV trains on them. RPNet's own refinement is IRN's:
# configs/pipelines/rpnet-irn_synthetic.py.
_base_ = ['./cam_synthetic.py']
custom_imports = dict(imports=['wsss_toolbox.methods.rpnet'], allow_failed_imports=False)

stage1 = dict(config='../rpnet/rpnet_tiny_1xb8-4e_synthetic-128x128.py')
# stride 4: also the strided maps IRN's random walk reads (rpnet-irn_synthetic.py)
maps = dict(scales=(1.0, 0.5, 1.5, 2.0), flip=True, fusion='mean', stride=4,
            aggregation='feature_grid')
