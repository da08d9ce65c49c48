# LID 2020 track 1 (ILSVRC-LID-200, image labels only), stage 1: the CAM classifier (VGG-16,
# OAA's head) on the ILSVRC DET training images, 200 classes. Layout (data_root; see
# configs/lid/README.md):
#   ImageSets/DET/train.txt             "<relative stem> <n>" (DET's list, 456,567 images;
#                                       those whose XML has no object are skipped: 349,310)
#   Data/DET/train/<stem>.JPEG, Annotations/DET/train/<stem>.xml
#   LID/classes.txt                     200 lines "wnid [name]" in the order of the track's
#                                       masks (mask value k + 1 = line k + 1)
#   LID/track1/val.txt                  the 5,000 val images (DET val stems)
#   Data/DET/val/<stem>.JPEG, Annotations/DET/val/<stem>.xml, LID/track1/val/<id>.png
_base_ = [
    '../_base_/models/cam_vgg16.py', '../_base_/schedules/cls_sgd_epochs.py',
    '../_base_/default_runtime.py'
]
data_root = 'data/ILSVRC'
class_file = 'LID/classes.txt'
num_classes = 200
input_size = (224, 224)
# path to torchvision's ImageNet VGG-16 checkpoint (the track allows CLS-LOC-trained
# initialisation); never downloaded
pretrained = None
model = dict(backbone=dict(pretrained=pretrained), head=dict(num_classes=num_classes))

train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='Resize', scale=input_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadWSSSAnnotations'),  # before any geometric transform
    dict(type='Resize', scale=input_size, keep_ratio=False),
    dict(type='PackWSSSInputs'),
]
lid_train = dict(
    type='LIDImageLabelDataset',
    data_root=data_root,
    class_file=class_file,
    ann_file='ImageSets/DET/train.txt',
    data_prefix=dict(img_path='Data/DET/train', ann_path='Annotations/DET/train'),
    pipeline=train_pipeline)
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=lid_train)
val_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(lid_train, ann_file='LID/track1/val.txt',
                 data_prefix=dict(img_path='Data/DET/val', ann_path='Annotations/DET/val',
                                  seg_map_path='LID/track1/val'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='ImageLabelMetric')
test_evaluator = val_evaluator

max_epochs = 10
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[7], gamma=0.1)]
log_processor = dict(by_epoch=True)
default_hooks = dict(
    logger=dict(interval=100, log_metric_by_epoch=True),
    checkpoint=dict(by_epoch=True, interval=1, max_keep_ckpts=2))
# stage 2: maps of the training images, single scale + flip (349k images)
map_inference = dict(scales=(1.0, ), flip=True, fusion='mean')
pseudo_labels = dict(generator=dict(type='ThresholdLabelGenerator', bg_threshold=0.3),
                     refiners=[])
