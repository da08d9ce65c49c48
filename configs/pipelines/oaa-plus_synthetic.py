# OAA+ (integral attention model on OAA's cumulative maps) through all three stages.
#
# The integral attention model (stage1) learns from the maps of an OAA run (stage0); its
# step's `input_dirs` sets the soft-label transform's `map_dir` to the folder of the
# `stage0_maps` step, so a change to stage 0 retrains stage 1. To take the maps of an OAA run
# made elsewhere instead, drop stage 0 and point the transform at them:
#   .venv/bin/python tools/pipeline.py configs/pipelines/oaa-plus_synthetic.py \
#       --cfg-options "steps=[stage1,maps,eval_maps,pseudo_labels,stage3,test,summary]" \
#       stage1.input_dirs=None \
#       stage1.cfg_options.train_dataloader.dataset.pipeline.1.map_dir=work_dirs/oaa/stage0_maps
# Stage 2 infers the maps of the integral attention model (ReLU(F^) / max) with the CAM
# baseline's multi-scale + flip settings (the stage-1 config's map_inference).
_base_ = ['./oaa_synthetic.py']
steps = ['stage0', 'stage0_maps', 'stage1', 'maps', 'eval_maps', 'pseudo_labels', 'stage3',
         'test', 'summary']
stage0 = dict(type='TrainClassifier', config='../oaa/oaa_tiny_1xb16-8e_synthetic-128x128.py')
stage0_maps = dict(type='CumulativeMaps', classifier='stage0')
stage1 = dict(config='../oaa/oaa-plus_tiny_1xb16-8e_synthetic-128x128.py',
              input_dirs={'train_dataloader.dataset.pipeline.1.map_dir': 'stage0_maps'})
maps = dict(_delete_=True, type='InferMaps', classifier='stage1', split='train')
