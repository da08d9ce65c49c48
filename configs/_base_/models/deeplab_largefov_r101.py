# DeepLab-LargeFOV on ResNet-101 (output stride 8: dilation 2 in res4, 4 in res5), the
# ResNet variant of OAA / SeeNet and MCIS's network: 3x3 conv dilation 12 (1024) -> ReLU ->
# 1x1 (1024) -> ReLU -> 1x1 classifier on res5.
#
# ImageNet initialisation (never downloaded): mmseg's configs use
# pretrained='open-mmlab://resnet101_v1c', which downloads. Download it once yourself
# (https://download.openmmlab.com/pretrain/third_party/resnet101_v1c-e67eebb6.pth) and set
#   --cfg-options model.pretrained=checkpoints/resnet101_v1c-e67eebb6.pth
resnet101_pretrained = None  # e.g. 'checkpoints/resnet101_v1c-e67eebb6.pth'
# SyncBN as mmseg (batch 10 spread over the GPUs); mmengine turns it into BN on one device.
# DeepLab v2 (Caffe) froze BN instead: norm_eval=True and requires_grad=False.
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(321, 321))  # training batches are padded to the crop size
model = dict(
    type='CRFEncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=resnet101_pretrained,
    backbone=dict(
        type='ResNetV1c',
        depth=101,
        num_stages=4,
        out_indices=(3, ),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True),
    decode_head=dict(
        type='LargeFOVHead',
        in_channels=2048,
        in_index=-1,
        channels=1024,
        num_convs=2,
        kernel_size=3,
        dilation=12,
        dropout_ratio=0.5,
        num_classes=21,
        norm_cfg=None,
        align_corners=False,
        # mean over the labelled (non-255) pixels, as Caffe's DeepLab; pseudo labels ignore
        # many pixels and mmseg's default would divide by all of them
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0, avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole', crf=None))
