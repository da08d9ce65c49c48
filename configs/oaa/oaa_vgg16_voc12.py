# Renamed in v0.2.0 (mmseg's file naming); this file is removed in v0.3.0.
_base_ = './oaa_vgg16_1xb5-15e_voc12aug-224x224.py'
_deprecation_ = dict(
    expected='configs/oaa/oaa_vgg16_1xb5-15e_voc12aug-224x224.py',
    reference='CHANGELOG.md, v0.2.0, Deprecations (the old path is removed in v0.3.0)')
