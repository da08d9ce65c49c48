# SeeNet on the synthetic benchmark: the tiny CAM classifier with SeeNet's three-branch head;
# the base of the synthetic SeeNet variants (README, "Configs").
_base_ = ['../cam/cam_tiny_1xb16-8e_synthetic-128x128.py']
custom_imports = dict(imports=['wsss_toolbox.methods.seenet'], allow_failed_imports=False)
model = dict(
    head=dict(
        _delete_=True, type='SeeNetHead', in_channels=128, num_classes=8, num_convs=1,
        channels=128,
        high_threshold=0.7, low_threshold=0.05, threshold_rule='paper',  # x max(M_A)
        sc_threshold=None,  # S_C: below (delta_h + delta_l) / 2 of the max
        flip_background=True,
        inference_erasing='all_classes',  # the head's defaults (README, "Configs")
        inference_resize='bilinear_after_fusion',
        loss_cls=dict(type='MultiLabelSoftMarginLoss')))
map_inference = dict(scales=(1.0, ), flip=True, fusion='max')  # Sec. 3.3
