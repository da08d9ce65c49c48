# RPNet on PASCAL VOC 2012 train_aug (10,582 images) following the authors' recipe (paper
# Sec. IV-B; liuweide01/RPNet-Weakly-Supervised-Segmentation, run_sample.py and
# step/train_cam.py, where it differs from the paper; the paper's reading as options in
# configs/rpnet/README.md): ResNeXt-50 (32x4d) with a stride-1 last stage (output stride 16,
# no dilation), block-2 and block-4 prototypes, pairs sharing a class (batch 8 pairs), SGD lr
# 0.02 with poly decay (power 0.9) and 10x on the new layers, weight decay 1e-4, 5 epochs,
# random long side 320-640, flip, 512x512 crops.
#
#   python tools/train.py configs/rpnet/rpnet_x50_1xb8-5e_voc12aug-512x512.py \
#       --work-dir work_dirs/rpnet_x50_1xb8-5e_voc12aug-512x512 \
#       --cfg-options model.backbone.pretrained=checkpoints/resnext50_32x4d-7cdf4587.pth
#   python tools/infer_maps.py configs/rpnet/rpnet_x50_1xb8-5e_voc12aug-512x512.py \
#       work_dirs/rpnet_x50_1xb8-5e_voc12aug-512x512/epoch_5.pth \
#       --out-dir work_dirs/rpnet_x50_1xb8-5e_voc12aug-512x512/maps
# The paper's maps / pseudo labels are measured on VOC train (1,464 images); IRN's boundary
# refinement (configs/irn/) turns the maps into the pseudo labels DeepLab-LargeFOV trains on.
# ResNeXt-101 (32x8d): --cfg-options model.backbone.arch=resnext101_32x8d
#   model.backbone.pretrained=checkpoints/resnext101_32x8d-8ba56ff5.pth
_base_ = ['../_base_/datasets/voc12_cls.py', '../_base_/default_runtime.py']
custom_imports = dict(imports=['wsss_toolbox.methods.rpnet'], allow_failed_imports=False)

# path to torchvision's ImageNet checkpoint of the architecture; never downloaded
pretrained = None
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
        # the code detaches block 2's output and freezes conv1/bn1 and every BN: no gradient
        # reaches the stem, layer1 and layer2
        frozen_stages=2,
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
        # the code's non-local block before each classifier (net/resnet50_cam.py L146, L182,
        # L273), with the batch statistics of [image, mirror] in its BatchNorm when making
        # CAMs (the code's model never leaves training mode: L252-256)
        non_local=True,
        non_local_inference_bn='flip_pair_batch_stats',
        loss_cls=dict(type='MultiLabelSoftMarginLoss')))

# the code's augmentation: long side at random in [320, 640], flip, random 512x512 crop (the
# batch is padded to its largest image with the mean, as the code's zero padding after
# normalisation)
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
    # intended settings (the released code passes 1e-4 as SGD's momentum, without decay)
    optimizer=dict(type='SGD', lr=0.02, momentum=0.0, weight_decay=1e-4),
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

# the code's CAMs (step/make_cam.py L35-55): original branch of single images, scales 1, 0.5,
# 1.5, 2, each with its mirror flipped back and added on the feature grid, summed over scales,
# maps and stride-4 maps each divided by their own max + 1e-5 (the views are rescaled by mmcv,
# bilinear, not PIL bicubic as the code's data loader)
map_inference = dict(scales=(1.0, 0.5, 1.5, 2.0), flip=True, fusion='mean',
                     aggregation='feature_grid')
# without IRN: the code's dense CAM evaluation (background score 0.15, argmax)
pseudo_labels = dict(generator=dict(type='ThresholdLabelGenerator', bg_threshold=0.15),
                     refiners=[])
