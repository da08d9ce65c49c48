# CAM baseline on PASCAL VOC 2012 train_aug (10,582 images) with the OAA paper's classifier
# settings (Sec. 4.1, "Network Settings"): VGG-16, batch 5, SGD lr 1e-3 momentum 0.9, wd 2e-4
# (the authors' code uses 5e-4), lr / 10 after 20k of 30k iterations (~ epoch 10 of 15).
_base_ = [
    '../_base_/models/cam_vgg16.py', '../_base_/datasets/voc12_cls.py',
    '../_base_/schedules/cls_sgd_epochs.py', '../_base_/default_runtime.py'
]
# path to torchvision's ImageNet VGG-16 checkpoint (vgg16-397923af.pth); never downloaded
pretrained = None
model = dict(backbone=dict(pretrained=pretrained))
log_processor = dict(by_epoch=True)
default_hooks = dict(
    logger=dict(interval=100, log_metric_by_epoch=True),
    checkpoint=dict(by_epoch=True, interval=1, max_keep_ckpts=2))
# stage 2: map inference settings used by tools/infer_maps.py and tools/pipeline.py
map_inference = dict(scales=(1.0, 0.5, 1.5, 2.0), flip=True, fusion='mean')
# stage 2b: the recipe of tools/make_pseudo_labels.py (pipeline configs name their own): the
# IRN/SEAM-style background threshold, then DenseCRF
pseudo_labels = dict(generator=dict(type='ThresholdLabelGenerator', bg_threshold=0.3),
                     refiners=[dict(type='DenseCRFRefiner')])
