# OAA+ on VOC 2012 after the authors' code: stored maps as targets, loss pooled per image,
# tau 0.001, summed over 5 iterations (README, "Integral attention model").
_base_ = ['./_base_/oaa_vgg16_voc12aug.py']
soft_label_dir = 'work_dirs/oaa_vgg16_1xb5-15e_voc12aug-224x224/cumulative_maps_raw'
model = dict(
    head=dict(_delete_=True, type='IntegralAttentionHead', in_channels=512, num_classes=20,
              num_convs=3, channels=512,
              loss_soft=dict(type='HybridLoss', tau=0.001, reduction='pooled_per_image',
                             batch_reduction='sum', loss_weight=5.0),
              label_resize_mode='none'))
train_pipeline = [
    _base_.train_pipeline[0],
    dict(type='LoadStoredCumulativeMaps', map_dir=soft_label_dir),  # not moved by transforms
    *_base_.train_pipeline[1:3],  # the authors' resize and ColorJitter
    dict(type='PackWSSSInputsWithSoftMaps'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
custom_hooks = []  # the integral attention model records no maps
