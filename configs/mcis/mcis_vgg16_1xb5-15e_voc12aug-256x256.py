# MCIS on VOC 2012 train_aug after the authors' released code (Table 1a "Ours*");
# the base of mcis_vgg16_1xb5-15e_lid20 (configs/mcis/README.md, "Settings of each config").
_base_ = ['../cam/cam_vgg16_1xb5-15e_voc12aug-224x224.py']
custom_imports = dict(imports=['wsss_toolbox.methods.mcis', 'wsss_toolbox.methods.oaa'],
                      allow_failed_imports=False)
input_size = (256, 256)
model = dict(
    type='MCISClassifier',
    self_pairs=('flip', 0.75, 2.0),  # 192^2 and 512^2 for 256^2 inputs
    data_preprocessor=dict(pad_size_divisor=1),
    backbone=dict(pool_kernel_size=2),
    head=dict(
        _delete_=True,
        type='MCISHead',
        in_channels=512,
        num_classes=20,
        num_convs=3,
        channels=512,
        init_mode='kaiming_fan_out',
        shared_classifier=False,
        contrastive=True,
        contrastive_start_epoch=2,
        contrastive_skip_empty='own_side_empty',  # authors: train.py L278-282
        loss_weighting='code',
        loss_cls=dict(type='MultiLabelSoftMarginLoss')))
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='Resize', scale=input_size, keep_ratio=False),
    dict(type='ColorJitterBGR', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1,
         backend='pil'),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadWSSSAnnotations'),  # before any geometric transform
    dict(type='Resize', scale=input_size, keep_ratio=False),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(
    batch_size=5,
    sampler=dict(_delete_=True, type='ClassPairSampler', group_size=2, shuffle=True),
    collate_fn=dict(type='group_collate'),
    dataset=dict(
        _delete_=True,
        type='ImageGroupDataset',
        group_size=2,
        dataset=dict(
            type='VOCImageLabelDataset',
            data_root='data/VOCdevkit/VOC2012',
            ann_file='ImageSets/Segmentation/train_aug.txt',
            data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug',
                             saliency_path='Saliency'),
            pipeline=train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
custom_hooks = [dict(type='MCISTrainingHook')]
max_epochs = 11
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4, nesterov=True),
    paramwise_cfg=dict(
        bias_lr_mult=2.,
        custom_keys={
            'head': dict(lr_mult=10.),
            'conv.bias': dict(lr_mult=20.),  # head.branch.convs.<i>.conv.bias
            'classifier.bias': dict(lr_mult=20.),  # head.branch.classifier.bias
        }))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[5, 10], gamma=0.1)]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
mcis_inference = dict(mode='fusion', num_related=3, related_seed=0, input_size=input_size,
                      fusion_resize='cv2_uint8')
map_inference = dict(scales=(1.0, ), flip=False, fusion='mean')  # tools/infer_maps.py: basic
pseudo_labels = dict(
    _delete_=True,
    generator=dict(type='SaliencyLabelGenerator', att_threshold=0.3, conflict_threshold=0.99,
                   sal_ignore=32 / 255, att_ignore=0.95),
    refiners=[])
