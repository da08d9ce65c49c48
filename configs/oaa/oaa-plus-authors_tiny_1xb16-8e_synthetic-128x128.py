# OAA+ with the authors' settings: stored maps as targets, loss pooled per image, tau 0.001,
# x5 (README, "Authors' settings vs the paper reading").
_base_ = ['./oaa-authors_tiny_1xb16-8e_synthetic-128x128.py']
soft_label_dir = 'work_dirs/oaa-authors_tiny_1xb16-8e_synthetic-128x128/cumulative_maps_raw'
model = dict(
    head=dict(_delete_=True, type='IntegralAttentionHead', in_channels=128, num_classes=8,
              num_convs=1, channels=128,
              loss_soft=dict(type='HybridLoss', tau=0.001, reduction='pooled_per_image',
                             batch_reduction='mean', loss_weight=5.0),
              label_resize_mode='none'))
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadStoredCumulativeMaps', map_dir=soft_label_dir),  # not moved by transforms
    _base_.train_pipeline[1],  # the authors' ColorJitter
    dict(type='PackWSSSInputsWithSoftMaps'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
custom_hooks = []  # the integral attention model records no maps
