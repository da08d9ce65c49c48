# LID 2020 track 3 (WSOL on ILSVRC CLS-LOC, image labels only), stage 1: a CAM classifier
# (VGG-16 conv layers, one extra 3x3 conv of 1024 as the CAM / ADL / Bae et al. VGG-GAP
# networks, 1x1 class-aware conv, GAP) over the 1000 classes, trained with a softmax
# cross-entropy (one class per image). Layout (data_root; configs/lid/README.md):
#   LOC_synset_mapping.txt                    1000 lines "wnid name" (the class order)
#   ImageSets/CLS-LOC/train_cls.txt, Data/CLS-LOC/train/<wnid>/<wnid>_<n>.JPEG
#   LID/track3/val.txt                        "<img_id> <wnid>" (the track's val images)
#   Data/CLS-LOC/val/<img_id>.JPEG, LID/track3/val/<img_id>.png (0/255 masks)
# The result of the track (Peak-IoU, Peak-Threshold, the curve) comes from the pipeline
# configs/pipelines/cam-wsol_clsloc.py (maps of the val images -> EvaluatePeakIoU).
_base_ = ['../_base_/schedules/cls_sgd_epochs.py', '../_base_/default_runtime.py']
data_root = 'data/ILSVRC'
num_classes = 1000
input_size = (224, 224)
# torchvision's ImageNet VGG-16 checkpoint (allowed by the track's rules); never downloaded
pretrained = None
model = dict(
    type='WSSSClassifier',
    data_preprocessor=dict(
        type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=8),
    backbone=dict(type='VGG16', dilated=True, out_indices=(4, ), pretrained=pretrained),
    head=dict(type='CAMHead', in_channels=512, num_classes=num_classes, num_convs=1,
              channels=1024, loss_cls=dict(type='SoftmaxCrossEntropyLoss')))

train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='RandomResize', scale=(256, 256), ratio_range=(1.0, 1.0), keep_ratio=False),
    dict(type='RecordedRandomCrop', crop_size=input_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='Resize', scale=input_size, keep_ratio=False),
    dict(type='PackWSSSInputs'),
]
clsloc_train = dict(type='CLSLOCImageLabelDataset', data_root=data_root,
                    class_file='LOC_synset_mapping.txt',
                    ann_file='ImageSets/CLS-LOC/train_cls.txt',
                    data_prefix=dict(img_path='Data/CLS-LOC/train'), pipeline=train_pipeline)
train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=clsloc_train)
val_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(clsloc_train, ann_file='LID/track3/val.txt',
                 data_prefix=dict(img_path='Data/CLS-LOC/val', seg_map_path='LID/track3/val'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='ImageLabelMetric')
test_evaluator = val_evaluator

max_epochs = 6
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=1e-4))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[4], gamma=0.1)]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
log_processor = dict(by_epoch=True)
default_hooks = dict(
    logger=dict(interval=100, log_metric_by_epoch=True),
    checkpoint=dict(by_epoch=True, interval=1, max_keep_ckpts=2))
# one map per image (the ground-truth class's), single scale + flip
map_inference = dict(scales=(1.0, ), flip=True, fusion='mean')
pseudo_labels = dict(generator=dict(type='ThresholdLabelGenerator', bg_threshold=0.3),
                     refiners=[])
