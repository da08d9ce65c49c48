# The CAM reference of the SeeNet table: the CAM baseline's classifier
# (configs/cam/cam_tiny_1xb16-8e_synthetic-128x128.py, whose head has the structure of SeeNet's
# S_A: 1 conv of 128 + class-aware 1x1 conv + GAP) through
# SeeNet's stage 2 and 3 -- the paper's inference (one scale, flip, max) and Algorithm 1's
# harmonic labels -- so that CAM and SeeNet differ only in the self-erasing branches.
#   python tools/pipeline.py configs/pipelines/seenet-cam_synthetic.py \
#       --work-dir work_dirs/seenet-cam
_base_ = ['./seenet_synthetic.py']
custom_imports = dict(imports=['wsss_toolbox.methods.seenet'], allow_failed_imports=False)
stage1 = dict(config='../cam/cam_tiny_1xb16-8e_synthetic-128x128.py')
