# OAA+: integral attention model on an OAA run's cumulative maps (README, "Integral attention
# model"); the base of the synthetic OAA+ variants.
_base_ = ['./_base_/oaa_tiny_synthetic.py']
soft_label_dir = 'work_dirs/oaa_tiny_1xb16-8e_synthetic-128x128/cumulative_maps'
model = dict(
    head=dict(_delete_=True, type='IntegralAttentionHead', in_channels=128, num_classes=8,
              num_convs=1, channels=128,
              loss_soft=dict(type='HybridLoss', tau=0.0, reduction='per_class'),
              label_resize_mode='area'))
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadCumulativeMaps', map_dir=soft_label_dir),
    dict(type='PackWSSSInputsWithSoftMaps'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
