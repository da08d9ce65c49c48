# CAM baseline on PASCAL VOC 2012 + SBD with the papers' settings (needs the dataset and the
# ImageNet VGG-16 checkpoint; set the `pretrained` paths below):
#   python tools/pipeline.py configs/pipelines/cam_voc12.py --work-dir work_dirs/cam_voc12
data_root = 'data/VOCdevkit/VOC2012'
vgg16_imagenet = None  # e.g. 'checkpoints/vgg16-397923af.pth' (torchvision's file)

stage1 = dict(
    config='../cam/cam_vgg16_voc12.py',
    cfg_options={'model.backbone.pretrained': vgg16_imagenet})
# CAMs of train_aug, multi-scale + flip (as IRN/SEAM); evaluated against SegmentationClassAug
maps = dict(split='train', scales=(1.0, 0.5, 1.5, 2.0), flip=True, fuse='sum')
pseudo_labels = dict(
    generator=dict(type='ThresholdLabelGenerator', bg_threshold=0.3),
    refiners=[dict(type='DenseCRFRefiner')],
    train_on=-1,
    nproc=8)
stage3 = dict(
    config='../deeplab/deeplab-largefov_vgg16_voc12-pseudo_321x321_15k.py',
    cfg_options={'model.backbone.pretrained': vgg16_imagenet,
                 'model.decode_head.fc_init_checkpoint': vgg16_imagenet})
report = dict(figure_images=4)
