# SeeNet through all three stages on the embedded synthetic benchmark (CPU).
#   python tools/pipeline.py configs/pipelines/seenet_synthetic.py --work-dir work_dirs/seenet
#
# Stage 1 trains the tiny classifier with SeeNet's head (S_A, S_B, S_C; same backbone, data and
# schedule as the CAM baseline). Stage 2 infers max(M^_A, M^_B) with the paper's inference
# (single scale, the flipped image fused by the max; T_A is built once from all the image's
# labels, which map inference hands to the head, and the branches are fused at feature
# resolution -- the head's defaults, not the released notebook's per-tag passes and bicubic
# resize of the VOC configs), then SeeNet's proxy ground truth (Algorithm 1: harmonic
# mean of attention and saliency, background 1 - D) -- the labels DeepLab-LargeFOV trains on.
# For comparison with the CAM demo the same maps also go through CAM's threshold 0.3 +
# DenseCRF labels (pseudo_labels_thr, pseudo_labels_crf), which stage 3 does not use.
_base_ = ['./cam_synthetic.py']
custom_imports = dict(imports=['wsss_toolbox.methods.seenet'], allow_failed_imports=False)

steps = ['stage1', 'maps', 'eval_maps', 'pseudo_labels', 'pseudo_labels_thr', 'pseudo_labels_crf',
         'stage3', 'test', 'summary']
stage1 = dict(config='../seenet/seenet_tiny_1xb16-8e_synthetic-128x128.py')
# Sec. 3.3: one scale, flip, element-wise max (also the stage-1 config's map_inference)
maps = dict(scales=(1.0, ), flip=True, fusion='max')
# Algorithm 1 (w = 1); needs the benchmark's saliency maps
pseudo_labels = dict(generator=dict(_delete_=True, type='HarmonicLabelGenerator', w=1.0))
pseudo_labels_thr = dict(type='MakePseudoLabels', maps='maps', nproc=2,
                         generator=dict(type='ThresholdLabelGenerator', bg_threshold=0.3))
pseudo_labels_crf = dict(labels='pseudo_labels_thr')  # + DenseCRF (the base's step)
stage3 = dict(labels='pseudo_labels')
summary = dict(figure=dict(labels=['pseudo_labels', 'pseudo_labels_crf']))
