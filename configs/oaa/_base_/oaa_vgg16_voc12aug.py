# OAA on VOC 2012 train_aug after the authors' released code: VGG-16 with 2x2 pools, data,
# optimiser, recorder (configs/oaa/README.md, "Configs" and "Departures").
_base_ = ['../../cam/cam_vgg16_1xb5-15e_voc12aug-224x224.py']
custom_imports = dict(imports=['wsss_toolbox.methods.oaa'], allow_failed_imports=False)
model = dict(data_preprocessor=dict(pad_size_divisor=1), backbone=dict(pool_kernel_size=2))
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='ResizeShortSide', size=224, interpolation='bicubic', backend='pil',
         long_side_rounding='round'),
    dict(type='ColorJitterBGR', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1,
         backend='pil'),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(
    batch_size=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug',
                                  saliency_path='Saliency'),
                 pipeline=train_pipeline))
optim_wrapper = dict(
    type='PerEpochAccumulationOptimWrapper',
    accumulative_counts=5,
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4, nesterov=True),
    paramwise_cfg=dict(bias_lr_mult=2., custom_keys={  # backbone biases: bias_lr_mult
        'head': dict(lr_mult=10.),
        'conv.bias': dict(lr_mult=20.),  # head.branch.convs.<i>.conv.bias
        'classifier.bias': dict(lr_mult=20.)}))  # head.branch.classifier.bias
cumulative_map_dir = 'cumulative_maps'
custom_hooks = [
    dict(type='CumulativeMapRecorderHook', fusion='max', score_rule='topk_sigmoid',
         attention_normalization='add_eps', skip_first_epoch=True,
         fill_missing_in_last_epoch=True, store=dict(bits=8),
         export=dict(mode='authors', raw_dir='cumulative_maps_raw', dir=cumulative_map_dir)),
]
pseudo_labels = dict(_delete_=True, generator=dict(type='SaliencyLabelGenerator'), refiners=[])
