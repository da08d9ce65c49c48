# CAM baseline on the embedded synthetic benchmark: a small network trained from scratch on
# CPU in a few minutes (128x128 images, 1,500 training images).
_base_ = [
    '../_base_/models/cam_tiny.py', '../_base_/datasets/synthetic_cls.py',
    '../_base_/schedules/cls_sgd_epochs.py', '../_base_/default_runtime.py'
]
max_epochs = 8
optim_wrapper = dict(optimizer=dict(lr=0.05, weight_decay=1e-4),
                     paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=1.)}))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[6], gamma=0.1)]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
log_processor = dict(by_epoch=True)
default_hooks = dict(
    logger=dict(interval=20, log_metric_by_epoch=True),
    checkpoint=dict(by_epoch=True, interval=1, max_keep_ckpts=2))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
# TinyConvNet normalises with BatchNorm, whose batch statistics are per process: trained with
# N processes (torchrun) of batch 16 each, every BN layer sees 16 images, not 16 N, so the run
# differs from one process of batch 16 N. Set sync_bn to synchronise them: mmengine's Runner then
# converts every BN layer to torch's SyncBatchNorm when distributed (one process: unchanged).
# It needs GPUs: with CPU processes (gloo) torch refuses it, and tools/train.py /
# tools/test.py stop with an explanation.
# sync_bn = 'torch'  # or: --cfg-options sync_bn=torch
map_inference = dict(scales=(1.0, 0.75, 1.5), flip=True, fusion='mean')
# stage 2b: the recipe of tools/make_pseudo_labels.py (pipeline configs name their own): the
# IRN/SEAM-style background threshold, then DenseCRF
pseudo_labels = dict(generator=dict(type='ThresholdLabelGenerator', bg_threshold=0.3),
                     refiners=[dict(type='DenseCRFRefiner')])
