# mmseg's DeepLabV3 (ResNet-101, ASPP, output stride 8) reused by inheritance, trained on
# stage-2 pseudo labels of VOC 2012 train_aug: a stronger stage-3 network than LargeFOV.
#
# Inheriting from `mmseg::` adds `_scope_='mmseg'` to the inherited top-level dicts; the
# model is switched to our scope (`_scope_='wsss_toolbox'`) so that it can be a
# CRFEncoderDecoder (mmseg's ResNetV1c/ASPPHead/FCNHead still resolve: our registry is a
# child of mmseg's).
#
# ImageNet initialisation (never downloaded): mmseg's base sets
# pretrained='open-mmlab://resnet50_v1c', which would download; we set None. Download
# https://download.openmmlab.com/pretrain/third_party/resnet101_v1c-e67eebb6.pth once and
#   --cfg-options model.pretrained=checkpoints/resnet101_v1c-e67eebb6.pth
_base_ = [
    'mmseg::_base_/models/deeplabv3_r50-d8.py',
    '../_base_/datasets/voc12_pseudo_label.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/deeplab_poly_20k.py',
]

# stage-3 visualisation (mmseg): painted predictions with `tools/test.py --show-dir DIR`
# (in DIR/vis_data/vis_image/); interval=1 paints every test image (mmseg's default: every 50th)
visualizer = dict(type='SegLocalVisualizer')
default_hooks = dict(visualization=dict(type='SegVisualizationHook', interval=1))
resnet101_pretrained = None  # e.g. 'checkpoints/resnet101_v1c-e67eebb6.pth'
crop_size = (321, 321)
num_classes = 21
model = dict(
    _scope_='wsss_toolbox',
    type='CRFEncoderDecoder',
    pretrained=resnet101_pretrained,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(depth=101),
    # avg_non_ignore: mean over the labelled pixels (pseudo labels ignore many)
    decode_head=dict(num_classes=num_classes, loss_decode=dict(avg_non_ignore=True)),
    auxiliary_head=dict(num_classes=num_classes, loss_decode=dict(avg_non_ignore=True)),
    test_cfg=dict(mode='whole', crf=None))
# mmseg's DeepLabV3 recipe: lr 0.01 for the whole network (no head multiplier)
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4)
optim_wrapper = dict(_delete_=True, type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=20000, by_epoch=False)
]
crf = dict(type='DenseCRFRefiner')
tta_model = dict(type='CRFSegTTAModel', fusion='mean', crf=crf)
