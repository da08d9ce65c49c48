# CAM on your own images and tags (the generic layout of configs/_base_/datasets/generic_cls.py;
# docs/getting_started.md). Set the data root, the number of classes and the ImageNet VGG-16
# checkpoint, e.g.
#   .venv/bin/python tools/train.py configs/cam/cam_vgg16_1xb16-15e_generic-256x256.py \
#       --cfg-options train_dataloader.dataset.data_root=data/my_dataset \
#       val_dataloader.dataset.data_root=data/my_dataset model.head.num_classes=5 \
#       model.backbone.pretrained=checkpoints/vgg16-397923af.pth
_base_ = [
    '../_base_/models/cam_vgg16.py', '../_base_/datasets/generic_cls.py',
    '../_base_/schedules/cls_sgd_epochs.py', '../_base_/default_runtime.py'
]
model = dict(backbone=dict(pretrained=None), head=dict(num_classes=20))
log_processor = dict(by_epoch=True)
default_hooks = dict(
    logger=dict(interval=50, log_metric_by_epoch=True),
    checkpoint=dict(by_epoch=True, interval=1, max_keep_ckpts=2))
map_inference = dict(scales=(1.0, 0.5, 1.5, 2.0), flip=True, fusion='mean')
# stage 2b: the recipe of tools/make_pseudo_labels.py (pipeline configs name their own): the
# IRN/SEAM-style background threshold, then DenseCRF
pseudo_labels = dict(generator=dict(type='ThresholdLabelGenerator', bg_threshold=0.3),
                     refiners=[dict(type='DenseCRFRefiner')])
