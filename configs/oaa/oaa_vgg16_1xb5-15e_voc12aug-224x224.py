# OAA (online attention accumulation, max fusion) on PASCAL VOC 2012 train_aug (10,582
# images), trained after the authors' released code (github.com/PengtaoJiang/OAA-PyTorch @
# a7c8214: train.sh, scripts/train.py, models/vgg.py, utils/LoadData.py) -- the code that
# produced the published numbers (configs/oaa/README.md, "Departures"):
#   * VGG-16 with 2x2 / stride-2 max pooling (pool1-3), pool4 3x3 stride 1, dilated conv5;
#   * batch 1 x 5 accumulated iterations (effective batch 5), no batch padding; the count of
#     accumulated iterations restarts every epoch without zeroing the gradients, so an
#     epoch's 10,582 mod 5 = 2 leftover images join the next epoch's first step
#     (scripts/train.py L116-134; PerEpochAccumulationOptimWrapper);
#   * SGD Nesterov, momentum 0.9, weight decay 5e-4, lr 1e-3 with multipliers x1 backbone
#     weights, x2 backbone biases, x10 new-layer weights, x20 new-layer biases; lr / 10 after
#     epoch 10 of 15;
#   * data: no shuffling, short side resized to 224 with the long side rounded and Pillow's
#     bicubic (utils/imutils.py L24-39), ColorJitter (0.3, 0.3, 0.3, 0.1) on the PIL image
#     with numpy's draws (their utils/transforms/, torchvision 0.2's code);
#   * recorder: top-K of float32 sigmoid probabilities, A = ReLU(F) / (max + 1e-8), epoch 1
#     skipped, last-epoch fill, export = one bicubic uint8 resize of the stored map to the
#     image size + min-max; the stored uint8 maps at feature resolution are also written
#     (cumulative_maps_raw, the targets of OAA+ in the authors' code).
# The paper-reading settings (the toolbox's synthetic configs) are named options; each is
# listed with its reason in configs/oaa/README.md.
#
#   .venv/bin/python tools/train.py configs/oaa/oaa_vgg16_1xb5-15e_voc12aug-224x224.py \
#       --work-dir work_dirs/oaa_vgg16_1xb5-15e_voc12aug-224x224 \
#       --cfg-options model.backbone.pretrained=checkpoints/vgg16-397923af.pth
# The cumulative maps are written to <work_dir>/cumulative_maps at the end of training (stage
# 2's map format, original image size). Then OAA's saliency-guided pseudo labels (MDC style:
# attention -> objects, DSS saliency -> background, conflicts ignored; paper Sec. 4 (opening),
# authors' gen_gt.py):
#   .venv/bin/python tools/make_pseudo_labels.py \
#       configs/oaa/oaa_vgg16_1xb5-15e_voc12aug-224x224.py \
#       --map-dir work_dirs/oaa_vgg16_1xb5-15e_voc12aug-224x224/cumulative_maps \
#       --out-dir work_dirs/oaa_vgg16_1xb5-15e_voc12aug-224x224/pseudo_labels --nproc 8
# and DeepLab-LargeFOV on them
# (configs/deeplab/deeplab-largefov_vgg16_1xb10-15k_voc12aug-pseudo-321x321.py with
# train_dataloader.dataset.pseudo_label_dir=
#  work_dirs/oaa_vgg16_1xb5-15e_voc12aug-224x224/pseudo_labels).
_base_ = ['../cam/cam_vgg16_1xb5-15e_voc12aug-224x224.py']
# OAA's components (recorder / drop hooks, integral attention head, losses, soft-label
# transforms) are a method folder, imported as any third-party plugin would be
custom_imports = dict(imports=['wsss_toolbox.methods.oaa'], allow_failed_imports=False)

# authors' backbone: torchvision's 2x2 / stride-2 pools (the toolbox default 3x3/s2/p1 is
# DeepLab's Caffe VGG); batch 1 needs no padding, so feature sizes are floor(H / 8) as theirs
model = dict(
    data_preprocessor=dict(pad_size_divisor=1),
    backbone=dict(pool_kernel_size=2))

# authors' data (utils/LoadData.py L23-28, L38): short side 224 (long side rounded, Pillow's
# bicubic) + ColorJitter on the PIL image (8-bit HSV hue, numpy draws), loader not shuffled.
# Named options: ResizeShortSide(backend='cv2', long_side_rounding='floor') (the toolbox's
# earlier resize: OpenCV bicubic, torchvision's truncated long side), ColorJitterBGR(
# backend='tensor') (torchvision's float-HSV jitter on tensors); the paper reading (the
# synthetic configs' choice): Resize(scale=(224, 224), keep_ratio=False) without ColorJitter,
# and shuffle=True.
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='ResizeShortSide', size=224, interpolation='bicubic', backend='pil',
         long_side_rounding='round'),
    dict(type='ColorJitterBGR', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1,
         backend='pil'),
    dict(type='PackWSSSInputs'),
]
# stage 2 needs saliency maps for the background (DSS, as the paper): data_root/Saliency
train_dataloader = dict(
    batch_size=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug',
                         saliency_path='Saliency'),
        pipeline=train_pipeline))

# authors' optimiser: Nesterov SGD, wd 5e-4, lr multipliers backbone w x1 / b x2, new layers
# w x10 / b x20 (mmengine's paramwise_cfg: the longest matching key wins, bias_lr_mult applies
# to the parameters no key matches, i.e. the backbone biases); 5 accumulated iterations of
# batch 1, each loss divided by 5 (train.py L127), counted per epoch as the authors' loop
# counts them (train.py L117, L130-134: the leftover of an epoch joins the next epoch's first
# step). type='OptimWrapper' = mmengine's count across epochs (steps on 5 consecutive images
# of the whole run, also across an epoch boundary).
optim_wrapper = dict(
    type='PerEpochAccumulationOptimWrapper',
    accumulative_counts=5,
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4, nesterov=True),
    paramwise_cfg=dict(
        bias_lr_mult=2.,
        custom_keys={
            'head': dict(lr_mult=10.),
            'conv.bias': dict(lr_mult=20.),  # head.branch.convs.<i>.conv.bias
            'classifier.bias': dict(lr_mult=20.),  # head.branch.classifier.bias
        }))

cumulative_map_dir = 'cumulative_maps'
custom_hooks = [
    dict(
        type='CumulativeMapRecorderHook',
        fusion='max',
        score_rule='topk_sigmoid',  # authors; 'paper' = strictly above every non-target
        attention_normalization='add_eps',  # authors; 'clamp' = max clamped at 1e-5
        bits=8,  # 15,555 maps of 28x28 cells: 12.2 MB in memory and in every checkpoint
        backend='memory',  # the short-side resize gives images different feature sizes
        skip_first_epoch=True,  # authors; False = the paper (M initialised in epoch 1)
        fill_missing_in_last_epoch=True,
        export_mode='authors',  # 'toolbox' = via the input size, clipped at 0 only
        export_raw_dir='cumulative_maps_raw',  # OAA+'s targets (authors)
        export_dir=cumulative_map_dir),
]
# stage 2b (tools/make_pseudo_labels.py): OAA's saliency-guided labels (attention -> objects,
# saliency -> background, conflicts ignored; paper Sec. 4 (opening), authors' gen_gt.py), no CRF
pseudo_labels = dict(_delete_=True, generator=dict(type='SaliencyLabelGenerator'), refiners=[])
