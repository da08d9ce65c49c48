# CAM baseline on PASCAL VOC 2012 + SBD with the papers' settings (needs the dataset and the
# ImageNet VGG-16 checkpoint; set the `_vgg16_imagenet` path below, or on the command line):
#   .venv/bin/python tools/pipeline.py configs/pipelines/cam_voc12.py \
#       --work-dir work_dirs/cam_voc12 --cfg-options \
#       stage1.cfg_options.model.backbone.pretrained=checkpoints/vgg16-397923af.pth \
#       stage3.cfg_options.model.backbone.pretrained=checkpoints/vgg16-397923af.pth \
#       stage3.cfg_options.model.decode_head.fc_init_checkpoint=checkpoints/vgg16-397923af.pth
data_root = 'data/VOCdevkit/VOC2012'
_vgg16_imagenet = None  # e.g. 'checkpoints/vgg16-397923af.pth' (torchvision's file)

steps = ['stage1', 'maps', 'eval_maps', 'pseudo_labels', 'pseudo_labels_crf', 'stage3', 'test',
         'summary']
stage1 = dict(type='TrainClassifier', config='../cam/cam_vgg16_1xb5-15e_voc12aug-224x224.py',
              cfg_options=dict(model=dict(backbone=dict(pretrained=_vgg16_imagenet))))
# CAMs of train_aug, multi-scale + flip (as IRN/SEAM); evaluated against SegmentationClassAug
maps = dict(type='InferMaps', classifier='stage1', split='train', scales=(1.0, 0.5, 1.5, 2.0),
            flip=True, fusion='mean')
eval_maps = dict(type='EvaluateMaps', maps='maps', nproc=8)
pseudo_labels = dict(type='MakePseudoLabels', maps='maps',
                     generator=dict(type='ThresholdLabelGenerator', bg_threshold=0.3), nproc=8)
pseudo_labels_crf = dict(type='RefineLabels', labels='pseudo_labels',
                         refiners=[dict(type='DenseCRFRefiner')], nproc=8)
stage3 = dict(
    type='TrainSegmentor',
    config='../deeplab/deeplab-largefov_vgg16_1xb10-15k_voc12aug-pseudo-321x321.py',
    labels='pseudo_labels_crf',
    cfg_options=dict(model=dict(backbone=dict(pretrained=_vgg16_imagenet),
                                decode_head=dict(fc_init_checkpoint=_vgg16_imagenet))))
test = dict(type='TestSegmentor', segmentor='stage3')
summary = dict(type='Summarize',
               figure=dict(maps='maps', labels=['pseudo_labels', 'pseudo_labels_crf'],
                           num_images=4))
