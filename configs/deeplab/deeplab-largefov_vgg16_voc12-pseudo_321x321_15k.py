# Renamed in v0.2.0 (mmseg's file naming); this file is removed in v0.3.0.
_base_ = './deeplab-largefov_vgg16_1xb10-15k_voc12aug-pseudo-321x321.py'
_deprecation_ = dict(
    expected='configs/deeplab/deeplab-largefov_vgg16_1xb10-15k_voc12aug-pseudo-321x321.py',
    reference='CHANGELOG.md, v0.2.0, Deprecations (the old path is removed in v0.3.0)')
