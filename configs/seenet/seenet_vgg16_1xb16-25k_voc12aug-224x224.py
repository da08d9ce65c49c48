# SeeNet on VOC 2012 train_aug with the paper's attention-network settings (Sec. 5.1),
# inference as the released notebook; the base of the VOC SeeNet variants (README, "Configs").
_base_ = [
    '../_base_/models/cam_vgg16.py', '../_base_/datasets/voc12_cls.py',
    '../_base_/default_runtime.py'
]
custom_imports = dict(imports=['wsss_toolbox.methods.seenet'], allow_failed_imports=False)
pretrained = None  # torchvision's ImageNet VGG-16 checkpoint (vgg16-397923af.pth)
model = dict(
    backbone=dict(dilated=False, pool_kernel_size=2, pretrained=pretrained),  # stride 16
    head=dict(
        _delete_=True, type='SeeNetHead', in_channels=512, num_classes=20, num_convs=3,
        channels=512, dropout_ratio=0.0, init_std=0.01,
        high_threshold=0.7, low_threshold=0.05, threshold_rule='paper',  # x max(M_A)
        sc_threshold=None,  # S_C: below (delta_h + delta_l) / 2 = 0.375 of the max
        flip_background=True,
        inference_erasing='per_class',  # the released notebook (vis.ipynb L110-125)
        inference_resize='bicubic_before_fusion',
        loss_cls=dict(type='MultiLabelSoftMarginLoss')))
train_pipeline = [  # ResNet-style augmentation
    dict(type='LoadImageWithCheck'),
    dict(type='RandomResize', scale=[(100000, 256), (100000, 480)], keep_ratio=True),
    dict(type='RandomCrop', crop_size=(224, 224)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(
    batch_size=16,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        pipeline=train_pipeline,
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug',
                         saliency_path='Saliency')))  # Algorithm 1 reads the saliency
max_iters = 25000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=2e-4),
    paramwise_cfg=dict(bias_lr_mult=2., bias_decay_mult=0.,
                       custom_keys={'head': dict(lr_mult=10.)}))
param_scheduler = [dict(type='MultiStepLR', by_epoch=False, milestones=[15000], gamma=0.1)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(by_epoch=False, interval=5000, max_keep_ckpts=2))
map_inference = dict(scales=(1.0, ), flip=True, fusion='max')  # Sec. 3.3, original size
