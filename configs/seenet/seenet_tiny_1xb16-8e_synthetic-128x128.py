# SeeNet (self-erasing network, Hou et al. NeurIPS 2018) on the embedded synthetic benchmark:
# the tiny classifier of configs/cam/cam_tiny_1xb16-8e_synthetic-128x128.py (same backbone,
# data, schedule, seed) with SeeNet's three-branch head instead of the CAM head.
#
#   python tools/train.py configs/seenet/seenet_tiny_1xb16-8e_synthetic-128x128.py
#   python tools/infer_maps.py configs/seenet/seenet_tiny_1xb16-8e_synthetic-128x128.py \
#       work_dirs/seenet_tiny_1xb16-8e_synthetic-128x128/epoch_8.pth \
#       --out-dir work_dirs/seenet_tiny_1xb16-8e_synthetic-128x128/maps
# or all three stages: configs/pipelines/seenet_synthetic.py.
#
# Every branch (S_A, S_B, S_C) has the structure of the tiny CAM head (1 extra conv of 128
# channels + class-aware 1x1 conv + GAP), S_A included, so the comparison with the CAM
# baseline isolates the self-erasing branches (the paper's VGG-16 head has 3 convs:
# configs/seenet/seenet_vgg16_1xb16-25k_voc12aug-224x224.py).
_base_ = ['../cam/cam_tiny_1xb16-8e_synthetic-128x128.py']
custom_imports = dict(imports=['wsss_toolbox.methods.seenet'], allow_failed_imports=False)

model = dict(
    head=dict(
        _delete_=True,
        type='SeeNetHead',
        in_channels=128,
        num_classes=8,
        num_convs=1,
        channels=128,
        high_threshold=0.7,  # delta_h = 0.7 max(M_A) (released model: 0.8, absolute)
        low_threshold=0.05,  # delta_l = 0.05 max(M_A) (released model: 0.0, absolute)
        threshold_rule='paper',  # 'released': absolute, strict thresholds
        sc_threshold=None,  # S_C: below (delta_h + delta_l) / 2 of the max
        flip_background=True,  # False: Table 1's setting 2 (background zeroed)
        # inference: the head's defaults, kept so the README's synthetic numbers stand (the VOC
        # configs follow the released notebook: 'per_class', 'bicubic_before_fusion')
        inference_erasing='all_classes',  # one T_A from all the image's tags
        inference_resize='bilinear_after_fusion',  # fuse at feature resolution, then resize
        loss_cls=dict(type='MultiLabelSoftMarginLoss')))

# Sec. 3.3: single scale, the flipped image fused by the element-wise max
map_inference = dict(scales=(1.0, ), flip=True, fusion='max')
