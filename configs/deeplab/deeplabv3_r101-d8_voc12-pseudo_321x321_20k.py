# Renamed in v0.2.0 (mmseg's file naming); this file is removed in v0.3.0.
_base_ = './deeplabv3_r101-d8_1xb10-20k_voc12aug-pseudo-321x321.py'
_deprecation_ = dict(
    expected='configs/deeplab/deeplabv3_r101-d8_1xb10-20k_voc12aug-pseudo-321x321.py',
    reference='CHANGELOG.md, v0.2.0, Deprecations (the old path is removed in v0.3.0)')
