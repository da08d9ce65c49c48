# SeeNet on PASCAL VOC 2012 + SBD through all three stages with the paper's settings (needs
# the dataset, DSS-style saliency maps in data_root/Saliency and the ImageNet VGG-16
# checkpoint; set `_vgg16_imagenet` below or on the command line):
#   .venv/bin/python tools/pipeline.py configs/pipelines/seenet_voc12.py \
#       --work-dir work_dirs/seenet_voc12 --cfg-options \
#       stage1.cfg_options.model.backbone.pretrained=checkpoints/vgg16-397923af.pth \
#       stage3.cfg_options.model.backbone.pretrained=checkpoints/vgg16-397923af.pth \
#       stage3.cfg_options.model.decode_head.fc_init_checkpoint=checkpoints/vgg16-397923af.pth
# Stage 1: SeeNet (VGG-16, 25k iterations of batch 16). Stage 2: max(M^_A, M^_B) at one scale
# with the flipped image fused by the max, as the released notebook (houqb/SeeNet vis.ipynb):
# one S_B pass per tag with T_A from that tag's map, each branch resized bicubically before
# the normalisation (the stage-1 config's head options), then Algorithm 1's
# proxy ground truth (harmonic mean of attention and saliency, background 1 - D). Stage 3:
# DeepLab-LargeFOV (VGG-16) on the proxy ground truth (Table 2's VGG16 row; the ResNet-101 row
# is seenet-r101_voc12.py).
_base_ = ['./cam_voc12.py']
custom_imports = dict(imports=['wsss_toolbox.methods.seenet'], allow_failed_imports=False)
_vgg16_imagenet = None  # e.g. 'checkpoints/vgg16-397923af.pth' (torchvision's file)

steps = ['stage1', 'maps', 'eval_maps', 'pseudo_labels', 'stage3', 'test', 'summary']
stage1 = dict(
    config='../seenet/seenet_vgg16_1xb16-25k_voc12aug-224x224.py',
    cfg_options=dict(model=dict(backbone=dict(pretrained=_vgg16_imagenet))))
maps = dict(scales=(1.0, ), flip=True, fusion='max')
pseudo_labels = dict(generator=dict(_delete_=True, type='HarmonicLabelGenerator', w=1.0))
stage3 = dict(
    labels='pseudo_labels',
    cfg_options=dict(model=dict(backbone=dict(pretrained=_vgg16_imagenet),
                                decode_head=dict(fc_init_checkpoint=_vgg16_imagenet))))
summary = dict(figure=dict(labels=['pseudo_labels']))
