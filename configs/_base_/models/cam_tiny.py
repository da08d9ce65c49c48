# CAM classifier small enough to train from scratch on CPU in minutes (the embedded demo).
num_classes = 8
model = dict(
    type='WSSSClassifier',
    data_preprocessor=dict(
        type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=8),
    backbone=dict(type='TinyConvNet', base_channels=32, out_indices=(3, )),
    head=dict(type='CAMHead', in_channels=128, num_classes=num_classes, num_convs=1,
              channels=128, loss_cls=dict(type='MultiLabelSoftMarginLoss')))
