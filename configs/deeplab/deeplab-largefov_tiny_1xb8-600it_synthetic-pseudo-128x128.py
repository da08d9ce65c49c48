# Tiny DeepLab-LargeFOV for the embedded synthetic benchmark (CPU, minutes): stage 3 of the
# demo pipeline and the tests. TinyConvNet (output stride 8, 128 channels, the stage-1 demo
# classifier's backbone) + LargeFOV head, 128x128 crops, 600 iterations of SGD with poly decay.
# Nothing is pretrained on ImageNet here: the demo pipeline initialises the backbone from the
# stage-1 classifier instead (`init_backbone_from_stage1` in configs/pipelines/*_synthetic.py),
# the role ImageNet weights play for the papers' VGG-16. From scratch, 600 iterations only
# learn to predict background.
#
# data_root: the generator's VOC-layout folder (wsss_toolbox.datasets.synthetic_benchmark:
# JPEGImages, SegmentationClass, ImageSets/Segmentation/{train,val}.txt, classes.txt).
# pseudo_label_dir: the stage-2 PNGs of the train images. Override both with
#   --cfg-options train_dataloader.dataset.data_root=DIR val_dataloader.dataset.data_root=DIR \
#                 test_dataloader.dataset.data_root=DIR \
#                 train_dataloader.dataset.pseudo_label_dir=DIR
_base_ = ['../_base_/default_runtime.py']
custom_imports = dict(
    imports=['wsss_toolbox.datasets', 'wsss_toolbox.models', 'mmseg.visualization'],
    allow_failed_imports=False)

data_root = 'data/synthetic'
pseudo_label_dir = 'work_dirs/demo/pseudo_labels'
# background + the benchmark's foreground classes (8 by default, data_root/classes.txt)
num_classes = 9
crop_size = (128, 128)
max_iters = 600

model = dict(
    type='CRFEncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=crop_size),
    backbone=dict(type='TinyConvNet', base_channels=32, out_indices=(3, )),
    decode_head=dict(
        type='LargeFOVHead',
        in_channels=128,
        in_index=-1,
        channels=128,
        num_convs=2,
        kernel_size=3,
        dilation=4,
        dropout_ratio=0.1,
        num_classes=num_classes,
        norm_cfg=None,
        align_corners=False,
        # mean over the labelled (non-255) pixels, as Caffe's DeepLab; pseudo labels ignore
        # many pixels and mmseg's default would divide by all of them
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0, avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole', crf=None))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=1.),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in (0.75, 1.0, 1.25)],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal'),
            ],
            [dict(type='LoadAnnotations')],
            [dict(type='PackSegInputs')],
        ])
]
crf = dict(type='DenseCRFRefiner')
tta_model = dict(type='CRFSegTTAModel', fusion='mean', crf=crf)

dataset = dict(
    type='PseudoLabelSegDataset',
    data_root=data_root,
    class_file='classes.txt',
    img_suffix='.jpg',
    seg_map_suffix='.png')
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        dataset,
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(img_path='JPEGImages'),
        pseudo_label_dir=pseudo_label_dir,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        dataset,
        ann_file='ImageSets/Segmentation/val.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=5e-4),
    clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1),
    # painted predictions with `tools/test.py --show-dir DIR` (DIR/vis_data/vis_image/);
    # interval=1 paints every test image (mmseg's default: every 50th)
    visualization=dict(type='SegVisualizationHook', interval=1))
visualizer = dict(type='SegLocalVisualizer')
env_cfg = dict(dist_cfg=dict(backend='gloo'))
# TinyConvNet's BatchNorm statistics are per process: with N GPU processes (torchrun) set
# sync_bn so that mmengine's Runner converts them to torch's SyncBatchNorm (statistics over
# all processes' images). It needs GPUs: with CPU processes (gloo) torch refuses it, and
# tools/train.py / tools/test.py stop with an explanation.
# sync_bn = 'torch'  # or: --cfg-options sync_bn=torch
