# CAM classifier on the WSSS VGG-16 (pool4 stride 1, dilated conv5, output stride 8) with the
# OAA paper's head: 3 extra 3x3 convs (512) + class-aware 1x1 conv + GAP (OAA Eqs. 1-2).
# ImageNet weights: set `pretrained` to torchvision's vgg16 checkpoint file (vgg16-397923af.pth);
# nothing is downloaded.
num_classes = 20
model = dict(
    type='WSSSClassifier',
    data_preprocessor=dict(
        type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=8),
    backbone=dict(type='VGG16', dilated=True, out_indices=(4, ), pretrained=None),
    head=dict(type='CAMHead', in_channels=512, num_classes=num_classes, num_convs=3,
              channels=512, loss_cls=dict(type='MultiLabelSoftMarginLoss')))
