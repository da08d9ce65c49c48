# Renamed in v0.2.0 (mmseg's file naming); this file is removed in v0.3.0.
_base_ = './oaa-plus_tiny_1xb16-8e_synthetic-128x128.py'
_deprecation_ = dict(
    expected='configs/oaa/oaa-plus_tiny_1xb16-8e_synthetic-128x128.py',
    reference='CHANGELOG.md, v0.2.0, Deprecations (the old path is removed in v0.3.0)')
