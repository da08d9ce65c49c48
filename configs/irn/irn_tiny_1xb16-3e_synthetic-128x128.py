# IRN's boundary network (inter-pixel relations) on the embedded synthetic benchmark: the
# stage-1 TinyConvNet (all four levels, strides 2/4/8/8), frozen, initialised by the pipeline
# from the CAM classifier (TrainAffinityNet's `init_backbone_from`); boundary head trained on
# the pixel pairs (radius 10 at stride 4) of the IRN seed labels. 3 epochs, lr 0.1 poly, as
# the authors' IRN; batch 16 (the VOC config: 32) for the 1,500 small images.
_base_ = ['../_base_/default_runtime.py']
custom_imports = dict(imports=['wsss_toolbox.methods.irn'], allow_failed_imports=False)

data_root = 'data/synthetic'
max_epochs = 3
model = dict(
    type='AffinityNet',
    data_preprocessor=dict(
        type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=8),
    backbone=dict(type='TinyConvNet', base_channels=32, out_indices=(0, 1, 2, 3)),
    head=dict(type='BoundaryHead', in_channels=(32, 64, 128, 128), channels=32, num_groups=4),
    stride=4, radius=10, freeze_backbone=True,
    # the authors' arithmetic (configs/irn/README.md): band paths, training pairs from the
    # cropped source set, seeds read at pixel 4i + 2 (PIL's nearest rescale by 1/4); the
    # boundary map at inference padded to the training input size (the authors: their 512
    # crop; here the 128x128 images, which already are a multiple of the pad divisor)
    path='band', pair_sources='cropped', seed_sampling='pil_nearest',
    infer_pad_size=(128, 128))

train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadSeedLabels'),  # seed_dir: set by the pipeline (the IRNSeeds step)
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='SyntheticWSSSDataset', data_root=data_root, split='train',
                 pipeline=train_pipeline))
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None

# authors' IRN: SGD (no momentum), lr 0.1, weight decay 1e-4, poly decay (power 0.9) per
# iteration
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.1, momentum=0.0, weight_decay=1e-4))
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
log_processor = dict(by_epoch=True)
default_hooks = dict(
    logger=dict(interval=20, log_metric_by_epoch=True),
    checkpoint=dict(by_epoch=True, interval=1, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
# random walk (RandomWalkLabels step options; the authors' values)
random_walk = dict(beta=10.0, exp_times=8, radius=5, bg_threshold=0.25, path='band')
