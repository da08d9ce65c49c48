# DeepLab-LargeFOV (VGG-16) trained on stage-2 pseudo labels of VOC 2012 train_aug, as in
# OAA (ICCV'19), SeeNet (NeurIPS'18) and MCIS (ECCV'20): batch 10, 321x321 crops, random
# scale 0.5-1.5 + flip, SGD lr 1e-3 (head x10), momentum 0.9, wd 5e-4, poly 0.9, 15k iters.
# Test as the papers (multi-scale + flip, then DenseCRF):
#   .venv/bin/python tools/test.py CONFIG CHECKPOINT --tta
#
#   .venv/bin/python tools/train.py \
#       configs/deeplab/deeplab-largefov_vgg16_1xb10-15k_voc12aug-pseudo-321x321.py \
#       --cfg-options train_dataloader.dataset.pseudo_label_dir=work_dirs/<run>/pseudo_labels \
#       model.backbone.pretrained=checkpoints/vgg16-397923af.pth \
#       model.decode_head.fc_init_checkpoint=checkpoints/vgg16-397923af.pth
_base_ = [
    '../_base_/models/deeplab_largefov_vgg16.py',
    '../_base_/datasets/voc12_pseudo_label.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/deeplab_poly_15k.py',
]

# stage-3 visualisation (mmseg): painted predictions with `tools/test.py --show-dir DIR`
# (in DIR/vis_data/vis_image/); interval=1 paints every test image (mmseg's default: every 50th)
visualizer = dict(type='SegLocalVisualizer')
default_hooks = dict(visualization=dict(type='SegVisualizationHook', interval=1))

# DenseCRF at test time: the deeplab-pytorch settings OAA's code used (10 iterations,
# Gaussian sxy 1 / compat 3, bilateral sxy 67 / srgb 3 / compat 4). DeepLab-LargeFOV's own:
# dict(type='DenseCRFRefiner', iterations=10, gaussian_sxy=3, gaussian_compat=3,
#      bilateral_sxy=121, bilateral_srgb=5, bilateral_compat=4)
crf = dict(
    type='DenseCRFRefiner',
    iterations=10,
    gaussian_sxy=1,
    gaussian_compat=3,
    bilateral_sxy=67,
    bilateral_srgb=3,
    bilateral_compat=4)
# No CRF during training-time validation (slow). For a single-scale test with CRF, derive a
# config with `model = dict(test_cfg=dict(crf=crf))`.
# --tta: scales x flip of tta_pipeline, mean of the softmax maps, then the CRF
tta_model = dict(type='CRFSegTTAModel', fusion='mean', crf=crf)
