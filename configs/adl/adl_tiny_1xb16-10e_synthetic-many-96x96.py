# CAM + ADL (attention-based dropout, Choe & Shim 2019; LID 2020 track-3 entry #5) on the
# many-class synthetic variant: ADL after the last two stages of TinyConvNet (the authors put
# it after the last pooling / conv blocks), drop rate 0.75, gamma 0.8 (their VGG setting).
custom_imports = dict(imports=['wsss_toolbox.methods.adl'], allow_failed_imports=False)
_base_ = ['../lid/cam_tiny_1xb16-10e_synthetic-many-96x96.py']
_plain_backbone = dict(type='TinyConvNet', base_channels=32, out_indices=(3, ))
model = dict(backbone=dict(_delete_=True, type='ADLBackbone', backbone=_plain_backbone,
                           positions=['stages.2', 'stages.3'], drop_rate=0.75,
                           threshold=0.8))
