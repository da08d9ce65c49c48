# Stage-1 data: PASCAL VOC 2012 + SBD (train_aug, 10,582 images) with image-level labels read
# from SegmentationClassAug (converted by mmseg's tools/dataset_converters/voc_aug.py).
# OAA and MCIS need no spatial augmentation (OAA accumulates maps per image across epochs):
# a fixed resize keeps every image in one frame. OAA's code: short side 224 + ColorJitter.
data_root = 'data/VOCdevkit/VOC2012'
input_size = (224, 224)

train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='Resize', scale=input_size, keep_ratio=False),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadWSSSAnnotations'),  # before any geometric transform: Resize moves the mask
    dict(type='Resize', scale=input_size, keep_ratio=False),
    dict(type='PackWSSSInputs'),
]
voc_train = dict(
    type='VOCImageLabelDataset',
    data_root=data_root,
    ann_file='ImageSets/Segmentation/train_aug.txt',
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug',
                     saliency_path=None),
    pipeline=train_pipeline)
train_dataloader = dict(
    batch_size=5,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=voc_train)
val_dataloader = dict(
    batch_size=5,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(voc_train, ann_file='ImageSets/Segmentation/val.txt',
                 data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass',
                                  saliency_path=None),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='ImageLabelMetric')
test_evaluator = val_evaluator
