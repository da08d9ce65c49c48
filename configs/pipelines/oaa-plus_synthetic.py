# OAA+ (integral attention model on OAA's cumulative maps) through all three stages.
#
# The integral attention model (stage 1) is trained on the maps of an OAA run ("stage 0").
# `stage0` asks the pipeline to train that run first (in <work_dir>/stage0) and to pass the
# folder of its exported maps (its config's `maps_from_stage1`, relative to its work dir) to
# the stage-1 config under the key `maps_to`. Without pipeline support for `stage0`, run the
# two steps by hand:
#   python tools/pipeline.py configs/pipelines/oaa_synthetic.py --work-dir work_dirs/oaa_synthetic
#   MAPS=work_dirs/oaa_synthetic/stage1/cumulative_maps
#   python tools/pipeline.py configs/pipelines/oaa-plus_synthetic.py \
#       --work-dir work_dirs/oaa-plus_synthetic \
#       --cfg-options stage1.cfg_options.train_dataloader.dataset.pipeline.1.map_dir=$MAPS
# Stage 2 infers the maps of the integral attention model (ReLU(F^) / max) with the CAM
# baseline's multi-scale + flip settings (the stage-1 config's map_inference).
_base_ = ['./oaa_synthetic.py']
stage0 = dict(
    config='../oaa/oaa_tiny_synthetic.py',
    cfg_options=dict(),
    maps_to='train_dataloader.dataset.pipeline.1.map_dir')
stage1 = dict(config='../oaa/oaa-plus_tiny_synthetic.py')
