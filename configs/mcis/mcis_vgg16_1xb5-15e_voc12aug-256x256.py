# MCIS on PASCAL VOC 2012 train_aug (10,582 images; Table 1a "Ours*"), trained after the authors'
# released code (github.com/GuoleiSun/MCIS_wsss @ 1fc8f75: Classifier/models/vgg.py,
# scripts/train.py, scripts/test.py), with the differences listed in configs/mcis/README.md:
#   * VGG-16, pool4 3x3 stride 1, dilated conv5, 3 extra 3x3 convs of 512 (output stride 8:
#     256x256 inputs give 32x32 features); torchvision-style 2x2 pools;
#   * MCISHead: separate bias-free co-attention classifier, W_P / W_B bias-free, contrastive
#     term from (0-based) epoch 2, each side's term only when that side has targets, new
#     convs initialised by fan-out, self-pairs (flip, 0.75x, 2x);
#   * batch 5 pairs, SGD Nesterov lr 1e-3 momentum 0.9 wd 5e-4, lr multipliers backbone
#     weights x1 / biases x2, new layers x10 / x20; lr / 10 at epochs 5 and 10 of 15; the
#     authors keep the checkpoint "epoch_10" (0-based), i.e. after 11 epochs: training stops
#     there (epoch_11.pth), the last 4 epochs of the 15-epoch schedule never matter;
#   * inputs resized to 256x256 (no crop, no flip) + ColorJitter(0.3, 0.3, 0.3, 0.1).
#
#   .venv/bin/python tools/train.py configs/mcis/mcis_vgg16_1xb5-15e_voc12aug-256x256.py \
#       --cfg-options model.backbone.pretrained=checkpoints/vgg16-397923af.pth
# then the maps (authors' fusion, 3 related images), labels and DeepLab:
#   .venv/bin/python tools/pipeline.py configs/pipelines/mcis_voc12.py \
#       --work-dir work_dirs/mcis_voc12
_base_ = ['../cam/cam_vgg16_1xb5-15e_voc12aug-224x224.py']
# ColorJitterBGR is OAA's transform; backend='pil': the draws and Pillow arithmetic of the
# torchvision 0.2 copy MCIS_wsss vendors (Classifier/utils/LoadData.py L2, L151)
custom_imports = dict(imports=['wsss_toolbox.methods.mcis', 'wsss_toolbox.methods.oaa'],
                      allow_failed_imports=False)
input_size = (256, 256)

model = dict(
    type='MCISClassifier',
    self_pairs=('flip', 0.75, 2.0),  # 192^2 and 512^2 for 256^2 inputs
    data_preprocessor=dict(pad_size_divisor=1),
    backbone=dict(pool_kernel_size=2),
    head=dict(
        _delete_=True,
        type='MCISHead',
        in_channels=512,
        num_classes=20,
        num_convs=3,
        channels=512,
        # authors (vgg.py L90-96): each new conv N(0, sqrt(2 / (k^2 out))), bias 0: 0.021 for
        # the 3x3 convs, 0.316 for the 20-class 1x1 phi (W_P, W_B and the co-attention
        # classifier keep PyTorch's default, as theirs); the backbone is the pretrained one
        init_mode='kaiming_fan_out',
        shared_classifier=False,
        contrastive=True,
        contrastive_start_epoch=2,
        contrastive_skip_empty='own_side_empty',  # authors: train.py L278-282
        loss_weighting='code',
        loss_cls=dict(type='MultiLabelSoftMarginLoss')))

train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='Resize', scale=input_size, keep_ratio=False),
    dict(type='ColorJitterBGR', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1,
         backend='pil'),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadWSSSAnnotations'),  # before any geometric transform
    dict(type='Resize', scale=input_size, keep_ratio=False),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(
    batch_size=5,
    sampler=dict(_delete_=True, type='ClassPairSampler', group_size=2, shuffle=True),
    collate_fn=dict(type='group_collate'),
    dataset=dict(
        _delete_=True,
        type='ImageGroupDataset',
        group_size=2,
        dataset=dict(
            type='VOCImageLabelDataset',
            data_root='data/VOCdevkit/VOC2012',
            ann_file='ImageSets/Segmentation/train_aug.txt',
            data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug',
                             saliency_path='Saliency'),
            pipeline=train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
custom_hooks = [dict(type='MCISTrainingHook')]

max_epochs = 11
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4, nesterov=True),
    paramwise_cfg=dict(
        bias_lr_mult=2.,
        custom_keys={
            'head': dict(lr_mult=10.),
            'conv.bias': dict(lr_mult=20.),  # head.branch.convs.<i>.conv.bias
            'classifier.bias': dict(lr_mult=20.),  # head.branch.classifier.bias
        }))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[5, 10], gamma=0.1)]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)

# stage 2: after the authors' test script (5-map fusion, 3 related images, 256x256 inputs,
# the fused uint8 map resized by OpenCV and rounded to uint8: test.py L105)
mcis_inference = dict(mode='fusion', num_related=3, related_seed=0, input_size=input_size,
                      fusion_resize='cv2_uint8')
map_inference = dict(scales=(1.0, ), flip=False, fusion='mean')  # tools/infer_maps.py: basic
pseudo_labels = dict(
    _delete_=True,
    generator=dict(type='SaliencyLabelGenerator', att_threshold=0.3, conflict_threshold=0.99,
                   sal_ignore=32 / 255, att_ignore=0.95),
    refiners=[])
