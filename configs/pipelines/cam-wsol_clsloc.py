# LID 2020 track 3 (WSOL, ILSVRC CLS-LOC): train the CAM classifier on the 1000-class image
# labels, infer the maps of the track's val images (the ground-truth class's map), and score
# them with the track's metric: the IoU-threshold curve over t = 0..255, Peak-IoU and
# Peak-Threshold (summary.json, peak_iou/curve.json; figure: tools/analysis/lid_curve_figure.py).
#   .venv/bin/python tools/pipeline.py configs/pipelines/cam-wsol_clsloc.py --work-dir DIR
data_root = 'data/ILSVRC'
steps = ['stage1', 'maps', 'peak_iou', 'summary']
stage1 = dict(type='TrainClassifier', config='../lid/cam_vgg16_1xb32-6e_clsloc-224x224.py',
              cfg_options=dict())
maps = dict(type='InferMaps', classifier='stage1', split='val')
# the track's masks are 0/255 PNGs: 255 is the object
peak_iou = dict(type='EvaluatePeakIoU', maps='maps', mask_format='binary', nproc=4)
summary = dict(type='Summarize')
