# RPNet on VOC 2012 train_aug following the authors' recipe; the base of the COCO config
# (configs/rpnet/README.md, "Settings of each config").
_base_ = ['../_base_/datasets/voc12_cls.py', '../_base_/default_runtime.py']
custom_imports = dict(imports=['wsss_toolbox.methods.rpnet'], allow_failed_imports=False)
pretrained = None  # torchvision's ImageNet checkpoint of the architecture
group_size = 2
model = dict(
    type='RPNetClassifier',
    data_preprocessor=dict(
        type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=16),
    backbone=dict(
        type='TorchvisionResNet',
        arch='resnext50_32x4d',
        output_stride=16,
        dilate=False,  # IRN/RPNet: layer4 stride 1 without dilation
        out_indices=(1, 3),  # block 2 (512 ch, stride 8) and block 4 (2048 ch, stride 16)
        frozen_stages=2,  # the code: no gradient reaches the stem, layer1 and layer2
        norm_eval=True,
        pretrained=pretrained),
    head=dict(
        type='RPNetHead',
        in_channels=2048,
        num_classes=20,
        channels=512,  # code: D = 512, no bias (paper: 256)
        in_index=-1,
        prototype_indices=(0, -1),  # block 2 + block 4 (Table IV)
        confident_threshold=0.3,
        discard_prob=0.5,
        full_mask_prototypes=True,
        similarity_scale=1.3,
        gaussian_size=5,
        gaussian_sigma=3.0,
        enhance_scales=(1.0, 0.5, 1.5, 2.0),
        similarity_loss='cam',
        similarity_loss_weight=10.0,
        cls_loss_branch='original',
        separate_partner_head=True,
        non_local=True,  # the code's non-local blocks (net/resnet50_cam.py L146, L182, L273)
        non_local_inference_bn='flip_pair_batch_stats',
        loss_cls=dict(type='MultiLabelSoftMarginLoss')))
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='RandomResize', scale=(640, 640), ratio_range=(0.5, 1.0), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCrop', crop_size=(512, 512)),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(
    batch_size=8,  # pairs: 16 images per step
    sampler=dict(_delete_=True, type='ClassPairSampler', group_size=group_size, shuffle=True),
    collate_fn=dict(type='group_collate'),
    dataset=dict(_delete_=True, type='ImageGroupDataset', group_size=group_size,
                 dataset=dict(type='VOCImageLabelDataset', data_root='data/VOCdevkit/VOC2012',
                              ann_file='ImageSets/Segmentation/train_aug.txt',
                              data_prefix=dict(img_path='JPEGImages',
                                               seg_map_path='SegmentationClassAug',
                                               saliency_path=None),
                              pipeline=train_pipeline)))
custom_hooks = [dict(type='GroupSizeCheckHook')]
max_epochs = 5
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.0, weight_decay=1e-4),  # intended (README)
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.)}))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
log_processor = dict(by_epoch=True)
default_hooks = dict(checkpoint=dict(by_epoch=True, interval=1, max_keep_ckpts=2))
map_inference = dict(scales=(1.0, 0.5, 1.5, 2.0), flip=True, fusion='mean',
                     aggregation='feature_grid')  # the code's CAMs (make_cam.py L35-55)
pseudo_labels = dict(  # without IRN: the code's dense CAM evaluation
    generator=dict(type='ThresholdLabelGenerator', bg_threshold=0.15), refiners=[])
