# RPNet + IRN refinement through all three stages on the embedded synthetic benchmark (CPU):
# the paper's full method (RPNet maps -> IRN boundary refinement -> DeepLab-LargeFOV).
#   .venv/bin/python tools/pipeline.py configs/pipelines/rpnet-irn_synthetic.py \
#       --work-dir work_dirs/rpnet/rpnet-irn
# RPNet's stage 1 and map inference (configs/pipelines/rpnet_synthetic.py; the maps also at
# stride 4 for the random walk), its threshold + CRF labels for comparison, then IRN
# (configs/irn/README.md): seeds (fg 0.30 / bg 0.05 + DenseCRF), the boundary network, the
# random walk -> the labels DeepLab trains on. To reuse a finished rpnet_synthetic.py run,
# copy its `stage1/` folder and `.pipeline/stage1.json` into the work dir (and `maps/` with
# `.pipeline/maps.json`: both pipelines' map steps have the same options).
_base_ = ['./cam-irn_synthetic.py']
custom_imports = dict(imports=['wsss_toolbox.methods.rpnet', 'wsss_toolbox.methods.irn'],
                      allow_failed_imports=False)

stage1 = dict(config='../rpnet/rpnet_tiny_1xb8-4e_synthetic-128x128.py')
# the code's make_cam: views flipped back and summed on the feature grid, the stride-4 maps
# resized from it (maps/feature_grid.py)
maps = dict(scales=(1.0, 0.5, 1.5, 2.0), flip=True, fusion='mean', stride=4,
            aggregation='feature_grid')
