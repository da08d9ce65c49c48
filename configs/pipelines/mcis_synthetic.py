# MCIS through all three stages on the embedded synthetic benchmark (CPU), with both map
# inferences from the one trained classifier:
#   .venv/bin/python tools/pipeline.py configs/pipelines/mcis_synthetic.py --work-dir work_dirs/mcis
#
# Stage 1 trains the tiny classifier with MCIS's head on pairs sharing a class (+ self-pairs).
# Stage 2 (multi-round, the default): the authors' 5-map fusion -- self-pairs with the flip and
# the 0.75x / 2x copies, plus the mean of the co-attention maps with 3 related images per class
# (seeded) -- then MCIS's saliency-guided labels (the authors' thresholds: fg 0.3, conflict
# 0.99, att 0.95, background saliency 32), which DeepLab-LargeFOV trains on. The "_single"
# steps do the same from the basic branch's maps of the same classifier (single-round).
_base_ = ['./cam_saliency_synthetic.py']
custom_imports = dict(imports=['wsss_toolbox.methods.mcis'], allow_failed_imports=False)

steps = ['stage1', 'maps', 'eval_maps', 'pseudo_labels', 'stage3', 'test', 'maps_single',
         'eval_maps_single', 'pseudo_labels_single', 'stage3_single', 'test_single', 'summary']
stage1 = dict(config='../mcis/mcis_tiny_1xb8-4e_synthetic-128x128.py')
maps = dict(_delete_=True, type='MCISInferMaps', classifier='stage1', split='train',
            mode='fusion', num_related=3, related_seed=0)
_mcis_labels = dict(type='SaliencyLabelGenerator', att_threshold=0.3, conflict_threshold=0.99,
                    sal_ignore=32 / 255, att_ignore=0.95)
pseudo_labels = dict(generator=dict(_delete_=True, **_mcis_labels))
maps_single = dict(type='MCISInferMaps', classifier='stage1', split='train',
                   mode='single_round')
eval_maps_single = dict(type='EvaluateMaps', maps='maps_single', nproc=2)
pseudo_labels_single = dict(type='MakePseudoLabels', maps='maps_single', generator=_mcis_labels,
                            nproc=2)
stage3_single = dict(
    type='TrainSegmentor',
    config='../deeplab/deeplab-largefov_tiny_1xb8-600it_synthetic-pseudo-128x128.py',
    labels='pseudo_labels_single', init_backbone_from='stage1', cfg_options=dict())
test_single = dict(type='TestSegmentor', segmentor='stage3_single')
summary = dict(figure=dict(maps='maps', labels=['pseudo_labels', 'pseudo_labels_single']))
