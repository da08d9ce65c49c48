# DeepLab-LargeFOV with a dilated VGG-16 (output stride 8): the stage-3 network of OAA,
# SeeNet and MCIS. fc6 = 3x3 conv dilation 12 (1024) -> fc7 = 1x1 (1024) -> fc8 classifier,
# dropout 0.5 after fc6 and fc7.
#
# ImageNet initialisation (never downloaded): set both paths to torchvision's VGG-16 file,
#   https://download.pytorch.org/models/vgg16-397923af.pth, e.g.
#   --cfg-options model.backbone.pretrained=checkpoints/vgg16-397923af.pth \
#                 model.decode_head.fc_init_checkpoint=checkpoints/vgg16-397923af.pth
# The backbone takes the conv layers; the head (optionally) decimates fc6/fc7 from its
# fully connected layers as DeepLab's init model does (LargeFOVHead docstring).
vgg16_pretrained = None  # e.g. 'checkpoints/vgg16-397923af.pth'
data_preprocessor = dict(
    type='SegDataPreProcessor',
    # torchvision ImageNet statistics (RGB); images are loaded as BGR
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(321, 321))  # training batches are padded to the crop size
model = dict(
    type='CRFEncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='VGG16',
        dilated=True,
        out_indices=(4, ),
        frozen_stages=-1,
        pretrained=vgg16_pretrained),
    decode_head=dict(
        type='LargeFOVHead',
        in_channels=512,
        in_index=-1,
        channels=1024,
        num_convs=2,
        kernel_size=3,
        dilation=12,
        dropout_ratio=0.5,
        num_classes=21,
        norm_cfg=None,
        align_corners=False,
        fc_init_checkpoint=vgg16_pretrained,
        # mean over the labelled (non-255) pixels, as Caffe's DeepLab; pseudo labels ignore
        # many pixels and mmseg's default would divide by all of them
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0, avg_non_ignore=True)),
    train_cfg=dict(),
    # crf: a REFINERS config (e.g. dict(type='DenseCRFRefiner')) refines every prediction;
    # left off here so that validation during training stays fast (see tta_model).
    test_cfg=dict(mode='whole', crf=None))
