# PASCAL VOC 2012 for stage 3: train on the 10,582 train_aug images with the stage-2
# pseudo labels, validate on the 1,449 val images with the ground truth.
#
# Layout (data_root): JPEGImages/<id>.jpg, SegmentationClass/<id>.png (val ground truth),
# ImageSets/Segmentation/{train_aug,val}.txt. train_aug.txt lists the 10,582 ids
# (SBD train+val + VOC train - VOC val; mmseg's voc_aug.py converter writes it as aug.txt).
#
# pseudo_label_dir: single-channel PNGs (0 = background, k + 1 = class k, 255 = ignore), one
# per train_aug id, as written by stage 2. Absolute, or relative to the working directory
# (it is NOT joined with data_root). Override it on the command line with
#   --cfg-options train_dataloader.dataset.pseudo_label_dir=work_dirs/<run>/pseudo_labels
# (a top-level variable is copied into the dicts when the config is read, so overriding
# `pseudo_label_dir` itself has no effect).
dataset_type = 'PseudoLabelSegDataset'
data_root = 'data/VOCdevkit/VOC2012'
pseudo_label_dir = 'work_dirs/pseudo_labels/voc12_train_aug'
train_ann_file = 'ImageSets/Segmentation/train_aug.txt'
val_ann_file = 'ImageSets/Segmentation/val.txt'
# registration: PseudoLabelSegDataset (wsss_toolbox.datasets) + our models
# (wsss_toolbox.models); SegLocalVisualizer (mmseg.visualization, which
# mmseg.utils.register_all_modules does not import)
custom_imports = dict(
    imports=['wsss_toolbox.datasets', 'wsss_toolbox.models', 'mmseg.visualization'],
    allow_failed_imports=False)

voc_metainfo = dict(
    classes=('background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car',
             'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person',
             'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor'),
    palette=[[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128], [128, 0, 128],
             [0, 128, 128], [128, 128, 128], [64, 0, 0], [192, 0, 0], [64, 128, 0],
             [192, 128, 0], [64, 0, 128], [192, 0, 128], [64, 128, 128], [192, 128, 128],
             [0, 64, 0], [128, 64, 0], [0, 192, 0], [128, 192, 0], [0, 64, 128]])

crop_size = (321, 321)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    # random rescaling by 0.5-1.5: VOC images are at most 500 pixels a side, so fitting
    # into (500r, 500r) scales a 500-pixel-long image by r
    dict(type='RandomResize', scale=(500, 500), ratio_range=(0.5, 1.5), keep_ratio=True),
    # plain random crop (DeepLab); smaller images are padded with 255 by the preprocessor
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=1.),
    dict(type='RandomFlip', prob=0.5),
    # optional colour augmentation (not in DeepLab / the papers):
    # dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
# whole-image inference at the original size
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
# multi-scale + flip test (tools/test.py --tta): tta_model fuses, then CRF (deeplab configs)
tta_scales = [0.5, 0.75, 1.0]  # MCIS also uses 1.25 and 1.5
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in tta_scales],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal'),
            ],
            [dict(type='LoadAnnotations')],
            [dict(type='PackSegInputs')],
        ])
]

# batch 10 per GPU as the papers on one GPU; with N GPUs set batch_size=10 // N
train_dataloader = dict(
    batch_size=10,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=voc_metainfo,
        ann_file=train_ann_file,
        data_prefix=dict(img_path='JPEGImages'),
        pseudo_label_dir=pseudo_label_dir,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=voc_metainfo,
        ann_file=val_ann_file,
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
