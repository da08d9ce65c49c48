# The LID 2020 track-3 protocol on the many-class variant of the synthetic benchmark (50
# classes, one object class per image; CPU, about 20 minutes on 2 cores): plain CAM, the maps
# of the val images, the IoU-threshold curve with the max and the 90th-percentile reference,
# the map mIoU of the val maps.
#   .venv/bin/python tools/pipeline.py configs/pipelines/cam-wsol_synthetic-many.py \
#       --work-dir work_dirs/wsol_synthetic
# Other classifiers: stage1.config=../lid/cam-tap_tiny_1xb16-10e_synthetic-many-96x96.py,
# ../adl/adl_tiny_1xb16-10e_synthetic-many-96x96.py, ... (configs/lid/README.md).
data_root = 'data/synthetic_many'
synthetic_benchmark = dict(variant='many-classes', num_train=2000, num_val=300, image_size=96,
                           seed=0, num_workers=2)
steps = ['stage1', 'maps', 'peak_iou', 'peak_iou_percentile', 'eval_maps', 'summary']
stage1 = dict(type='TrainClassifier',
              config='../lid/cam_tiny_1xb16-10e_synthetic-many-96x96.py', cfg_options=dict())
maps = dict(type='InferMaps', classifier='stage1', split='val')
peak_iou = dict(type='EvaluatePeakIoU', maps='maps', nproc=2)
peak_iou_percentile = dict(type='EvaluatePeakIoU', maps='maps', reference='percentile',
                           percentile=90, nproc=2)
eval_maps = dict(type='EvaluateMaps', maps='maps', nproc=2)
summary = dict(type='Summarize')
