# OAA+: stage 0 trains OAA, stage 1 the integral attention model on its exported maps; the
# base of the OAA+ pipelines (configs/oaa/README.md, "Pipelines").
_base_ = ['./oaa_synthetic.py']
steps = ['stage0', 'stage0_maps', 'stage1', 'maps', 'eval_maps', 'pseudo_labels', 'stage3',
         'test', 'summary']
stage0 = dict(type='TrainClassifier', config='../oaa/oaa_tiny_1xb16-8e_synthetic-128x128.py')
stage0_maps = dict(type='CumulativeMaps', classifier='stage0')
stage1 = dict(config='../oaa/oaa-plus_tiny_1xb16-8e_synthetic-128x128.py',
              input_dirs={'train_dataloader.dataset.pipeline.1.map_dir': 'stage0_maps'})
maps = dict(_delete_=True, type='InferMaps', classifier='stage1', split='train')
