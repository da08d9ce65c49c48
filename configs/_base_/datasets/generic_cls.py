# Stage-1 data in the generic layout (your own images and tags; docs/getting_started.md):
#   data_root/images/<id>.jpg
#   data_root/classes.txt        one foreground class name per line
#   data_root/train.txt          "<id> <class> <class> ..." (names or 0-based indices)
#   data_root/val.txt            same, for validation (optional masks: data_root/masks/<id>.png)
# Set data_root and the number of classes of the model (model.head.num_classes).
data_root = 'data/my_dataset'

train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='RandomResize', scale=(320, 320), ratio_range=(0.7, 1.3), keep_ratio=True),
    dict(type='RecordedRandomCrop', crop_size=(256, 256)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadWSSSAnnotations'),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    # add seg_map_path='masks' when the training images have masks (map / label evaluation)
    dataset=dict(type='GenericImageLabelDataset', data_root=data_root, ann_file='train.txt',
                 data_prefix=dict(img_path='images'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='GenericImageLabelDataset', data_root=data_root, ann_file='val.txt',
                 data_prefix=dict(img_path='images', seg_map_path='masks'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='ImageLabelMetric')
test_evaluator = val_evaluator
