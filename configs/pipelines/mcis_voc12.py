# MCIS on PASCAL VOC 2012 + SBD through all three stages with the authors' settings (needs the
# dataset, saliency maps in data_root/Saliency -- the authors used DSS / PoolNet, released as
# binary 0/255 maps -- the ImageNet VGG-16 and mmseg's ResNet-101 v1c checkpoints, never
# downloaded):
#   .venv/bin/python tools/pipeline.py configs/pipelines/mcis_voc12.py \
#       --work-dir work_dirs/mcis_voc12 --cfg-options \
#       stage1.cfg_options.model.backbone.pretrained=checkpoints/vgg16-397923af.pth \
#       stage3.cfg_options.model.pretrained=checkpoints/resnet101_v1c-e67eebb6.pth
# Stage 1: MCIS (VGG-16, 5 pairs per batch, the checkpoint after 11 epochs). Stage 2: the
# authors' 5-map fusion with 3 related images per class at 256x256, then MCIS's
# saliency-guided labels (fg 0.3, conflict 0.99, att 0.95, background saliency 32). Stage 3:
# DeepLab-LargeFOV on ResNet-101 (the ablations' segmentation network; Table 1a "Ours†").
_base_ = ['./cam_voc12.py']
custom_imports = dict(imports=['wsss_toolbox.methods.mcis'], allow_failed_imports=False)
_vgg16_imagenet = None  # e.g. 'checkpoints/vgg16-397923af.pth' (torchvision's file)
_resnet101_imagenet = None  # e.g. 'checkpoints/resnet101_v1c-e67eebb6.pth'

steps = ['stage1', 'maps', 'eval_maps', 'pseudo_labels', 'stage3', 'test', 'summary']
stage1 = dict(
    config='../mcis/mcis_vgg16_1xb5-15e_voc12aug-256x256.py',
    cfg_options=dict(model=dict(backbone=dict(pretrained=_vgg16_imagenet))))
maps = dict(_delete_=True, type='MCISInferMaps', classifier='stage1', split='train',
            mode='fusion', num_related=3, related_seed=0, input_size=(256, 256))
pseudo_labels = dict(generator=dict(
    _delete_=True, type='SaliencyLabelGenerator', att_threshold=0.3, conflict_threshold=0.99,
    sal_ignore=32 / 255, att_ignore=0.95))
stage3 = dict(
    labels='pseudo_labels',
    config='../deeplab/deeplab-largefov_r101_1xb10-15k_voc12aug-pseudo-321x321.py',
    cfg_options=dict(_delete_=True, model=dict(pretrained=_resnet101_imagenet)))
summary = dict(figure=dict(labels=['pseudo_labels']))
