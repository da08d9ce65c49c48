# DeepLab-LargeFOV on ResNet-101 trained on stage-2 pseudo labels of VOC 2012 train_aug:
# the ResNet variant of OAA / SeeNet and MCIS's network (MCIS's Caffe solver: lr 1e-3 with
# the head x10, poly 0.9, batch 10, 16k iterations; we use OAA's 15k). Test (MCIS: scales
# 0.5-1.5 + flip, softmax average, then CRF):
#   .venv/bin/python tools/test.py CONFIG CHECKPOINT --tta
#
#   .venv/bin/python tools/train.py \
#       configs/deeplab/deeplab-largefov_r101_1xb10-15k_voc12aug-pseudo-321x321.py \
#       --cfg-options train_dataloader.dataset.pseudo_label_dir=work_dirs/<run>/pseudo_labels \
#       model.pretrained=checkpoints/resnet101_v1c-e67eebb6.pth
_base_ = [
    '../_base_/models/deeplab_largefov_r101.py',
    '../_base_/datasets/voc12_pseudo_label.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/deeplab_poly_15k.py',
]

# stage-3 visualisation (mmseg): painted predictions with `tools/test.py --show-dir DIR`
# (in DIR/vis_data/vis_image/); interval=1 paints every test image (mmseg's default: every 50th)
visualizer = dict(type='SegLocalVisualizer')
default_hooks = dict(visualization=dict(type='SegVisualizationHook', interval=1))

# MCIS's test-time CRF: 1 iteration, Gaussian sxy 3 / compat 1, bilateral sxy 80 / srgb 4 /
# compat 3.
crf = dict(
    type='DenseCRFRefiner',
    iterations=1,
    gaussian_sxy=3,
    gaussian_compat=1,
    bilateral_sxy=80,
    bilateral_srgb=4,
    bilateral_compat=3)
tta_scales = [0.5, 0.75, 1.0, 1.25, 1.5]
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
tta_model = dict(type='CRFSegTTAModel', fusion='mean', crf=crf)
