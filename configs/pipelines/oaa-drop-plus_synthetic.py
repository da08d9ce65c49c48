# OAA+++ (integral attention model on the cumulative maps of OAA++) through all three
# stages; see oaa-plus_synthetic.py (stage 0 = the OAA++ classifier). By hand:
#   python tools/pipeline.py configs/pipelines/oaa-drop_synthetic.py \
#       --work-dir work_dirs/oaa-drop_synthetic
#   MAPS=work_dirs/oaa-drop_synthetic/stage1/cumulative_maps
#   python tools/pipeline.py configs/pipelines/oaa-drop-plus_synthetic.py \
#       --work-dir work_dirs/oaa-drop-plus_synthetic \
#       --cfg-options stage1.cfg_options.train_dataloader.dataset.pipeline.1.map_dir=$MAPS
_base_ = ['./oaa-plus_synthetic.py']
stage0 = dict(config='../oaa/oaa-drop_tiny_synthetic.py')
