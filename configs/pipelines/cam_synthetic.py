# The demo: CAM baseline through all three stages on the embedded synthetic benchmark (CPU).
#   .venv/bin/python tools/pipeline.py configs/pipelines/cam_synthetic.py --work-dir work_dirs/demo
# The benchmark is generated into data_root on first use (about 15 s). `--list` shows the
# steps and which of them would run.
data_root = 'data/synthetic'
synthetic_benchmark = dict(num_train=1500, num_val=300, image_size=128, seed=0, num_workers=2)

steps = ['stage1', 'maps', 'eval_maps', 'pseudo_labels', 'pseudo_labels_crf', 'stage3', 'test',
         'summary']
stage1 = dict(type='TrainClassifier', config='../cam/cam_tiny_1xb16-8e_synthetic-128x128.py',
              cfg_options=dict())
# map inference on the training images (multi-scale + flip, fused per class by the mean)
maps = dict(type='InferMaps', classifier='stage1', split='train', scales=(1.0, 0.75, 1.5),
            flip=True, fusion='mean')
# the maps against the training masks: best background threshold, recall / precision @50 %
eval_maps = dict(type='EvaluateMaps', maps='maps', nproc=2)
# IRN/SEAM-style background threshold, then DenseCRF; stage 3 trains on the CRF output
pseudo_labels = dict(type='MakePseudoLabels', maps='maps',
                     generator=dict(type='ThresholdLabelGenerator', bg_threshold=0.3), nproc=2)
pseudo_labels_crf = dict(type='RefineLabels', labels='pseudo_labels',
                         refiners=[dict(type='DenseCRFRefiner')], nproc=2)
# no ImageNet weights here: DeepLab's backbone starts from the stage-1 classifier's
stage3 = dict(type='TrainSegmentor',
              config='../deeplab/deeplab-largefov_tiny_1xb8-600it_synthetic-pseudo-128x128.py',
              labels='pseudo_labels_crf', init_backbone_from='stage1', cfg_options=dict())
test = dict(type='TestSegmentor', segmentor='stage3')
summary = dict(type='Summarize',
               figure=dict(maps='maps', labels=['pseudo_labels', 'pseudo_labels_crf'],
                           num_images=4))
