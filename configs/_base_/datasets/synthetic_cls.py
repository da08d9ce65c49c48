# Stage-1 data: the embedded synthetic benchmark with image-level labels
# (tools/dataset_converters/make_synthetic_benchmark.py writes it; docs/synthetic_benchmark.md).
data_root = 'data/synthetic'

train_pipeline = [
    dict(type='LoadImageWithCheck'),
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
    dataset=dict(type='SyntheticWSSSDataset', data_root=data_root, split='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='SyntheticWSSSDataset', data_root=data_root, split='val',
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='ImageLabelMetric')
test_evaluator = val_evaluator
