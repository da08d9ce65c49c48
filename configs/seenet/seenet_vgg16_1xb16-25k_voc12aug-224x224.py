# SeeNet on PASCAL VOC 2012 train_aug (10,582 images) with the paper's attention-network
# settings (Sec. 5.1; the backbone cut after houqb/SeeNet deploy_seenet.prototxt): VGG-16
# without pool5 and the FC layers (output stride 16, relu5_3 features; ImageNet weights via
# `pretrained`), three branches of 3 convs (512) + class-aware 1x1 conv + GAP, batch 16, SGD
# lr 1e-3 (momentum 0.9, not stated in the paper), divided by 10 after 15k of 25k iterations,
# weight decay 2e-4; ResNet-style augmentation (random short side 256-480, random 224x224
# crop, horizontal flip; the paper only cites ResNet [8]). Inference follows the released
# notebook (houqb/SeeNet vis.ipynb), which the paper leaves open: one S_B pass per tagged
# class and the bicubic resize before the normalisation (configs/seenet/README.md).
#
#   python tools/train.py configs/seenet/seenet_vgg16_1xb16-25k_voc12aug-224x224.py \
#       --work-dir work_dirs/seenet_vgg16_1xb16-25k_voc12aug-224x224 \
#       --cfg-options model.backbone.pretrained=checkpoints/vgg16-397923af.pth
#   python tools/infer_maps.py configs/seenet/seenet_vgg16_1xb16-25k_voc12aug-224x224.py \
#       work_dirs/seenet_vgg16_1xb16-25k_voc12aug-224x224/iter_25000.pth \
#       --out-dir work_dirs/seenet_vgg16_1xb16-25k_voc12aug-224x224/maps
#   python tools/make_pseudo_labels.py configs/seenet/seenet_vgg16_1xb16-25k_voc12aug-224x224.py \
#       --map-dir work_dirs/seenet_vgg16_1xb16-25k_voc12aug-224x224/maps \
#       --out-dir work_dirs/seenet_vgg16_1xb16-25k_voc12aug-224x224/pseudo_labels \
#       --cfg-options generator.type=HarmonicLabelGenerator --nproc 8
# then DeepLab-LargeFOV (VGG-16 or ResNet-101) on them; all stages in one command:
# configs/pipelines/seenet_voc12.py (seenet-r101_voc12.py for the ResNet-101 DeepLab).
# Algorithm 1 needs saliency maps (DSS in the paper) in data_root/Saliency.
_base_ = [
    '../_base_/models/cam_vgg16.py', '../_base_/datasets/voc12_cls.py',
    '../_base_/default_runtime.py'
]
custom_imports = dict(imports=['wsss_toolbox.methods.seenet'], allow_failed_imports=False)

# path to torchvision's ImageNet VGG-16 checkpoint (vgg16-397923af.pth); never downloaded
pretrained = None
model = dict(
    # the standard VGG-16 (2x2 pools of stride 2, no dilation), pool1-pool4 kept, pool5 and
    # the FC layers removed: output stride 16, 14x14 relu5_3 cells at 224 (pool1-pool4 in
    # houqb/SeeNet deploy_seenet.prototxt L67-307; the paper: "all three FC layers removed")
    backbone=dict(dilated=False, pool_kernel_size=2, pretrained=pretrained),
    head=dict(
        _delete_=True,
        type='SeeNetHead',
        in_channels=512,
        num_classes=20,
        num_convs=3,  # the released model: 2 (+ dropout_ratio=0.5)
        channels=512,
        dropout_ratio=0.0,
        init_std=0.01,  # new layers N(0, 0.01), bias 0
        high_threshold=0.7,  # delta_h = 0.7 max(M_A)
        low_threshold=0.05,  # delta_l = 0.05 max(M_A)
        threshold_rule='paper',  # 'released': absolute, strict thresholds (0.8 / 0.0)
        sc_threshold=None,  # S_C: below (delta_h + delta_l) / 2 = 0.375 of the max
        flip_background=True,  # False: Table 1's setting 2
        # inference as the released notebook (vis.ipynb L110-125, L175-179; the paper does not
        # say how S_B runs at test time, nor where the resize sits): one S_B pass per tagged
        # class with T_A from that class alone ('all_classes': one T_A from all the tags), each
        # branch resized bicubically to the input before ReLU, / max and the fusion
        # ('bilinear_after_fusion': fuse at feature resolution, then bilinear)
        inference_erasing='per_class',
        inference_resize='bicubic_before_fusion',
        loss_cls=dict(type='MultiLabelSoftMarginLoss')))

# ResNet-style augmentation (the paper: "as ResNet [8]", no details; ResNet's Sec. 3.4 scale
# augmentation): random short side in [256, 480], random 224x224 crop, horizontal flip
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='RandomResize', scale=[(100000, 256), (100000, 480)], keep_ratio=True),
    dict(type='RandomCrop', crop_size=(224, 224)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(
    batch_size=16,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        pipeline=train_pipeline,
        # Algorithm 1 (stage 2) reads the saliency maps of the training images
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug',
                         saliency_path='Saliency')))

max_iters = 25000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=2e-4),
    # new layers x10 (the toolbox's Caffe convention); biases lr x2 without weight decay
    # (the released Caffe files)
    paramwise_cfg=dict(bias_lr_mult=2., bias_decay_mult=0.,
                       custom_keys={'head': dict(lr_mult=10.)}))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, milestones=[15000], gamma=0.1)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(by_epoch=False, interval=5000, max_keep_ckpts=2))

# Sec. 3.3: one scale (the original image size; the paper resizes to 224x224 (Sec. 5.1), the
# notebook to 256x256, vis.ipynb L96, L166), the flipped image fused by the element-wise max
# (vis.ipynb L177-180)
map_inference = dict(scales=(1.0, ), flip=True, fusion='max')
