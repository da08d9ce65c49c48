# SeeNet on PASCAL VOC 2012 with the ResNet-101 DeepLab-LargeFOV of Table 2's second row
# (stages 1 and 2 as seenet_voc12.py; mmseg's ResNet-101 v1c ImageNet weights, never
# downloaded: set `_resnet101_imagenet` or pass it on the command line):
#   .venv/bin/python tools/pipeline.py configs/pipelines/seenet-r101_voc12.py \
#       --work-dir work_dirs/seenet-r101_voc12 --cfg-options \
#       stage1.cfg_options.model.backbone.pretrained=checkpoints/vgg16-397923af.pth \
#       stage3.cfg_options.model.pretrained=checkpoints/resnet101_v1c-e67eebb6.pth
_base_ = ['./seenet_voc12.py']
custom_imports = dict(imports=['wsss_toolbox.methods.seenet'], allow_failed_imports=False)
_resnet101_imagenet = None  # e.g. 'checkpoints/resnet101_v1c-e67eebb6.pth'
stage3 = dict(
    config='../deeplab/deeplab-largefov_r101_1xb10-15k_voc12aug-pseudo-321x321.py',
    cfg_options=dict(_delete_=True, model=dict(pretrained=_resnet101_imagenet)))
