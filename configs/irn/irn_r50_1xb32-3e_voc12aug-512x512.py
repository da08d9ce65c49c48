# IRN's boundary network on PASCAL VOC 2012 train_aug (10,582 images) after the authors' code
# (differences: configs/irn/README.md):
# ImageNet ResNet-50 with the last stage at stride 1 (output stride 16, no dilation), frozen;
# boundary head on its four stages (1x1 conv 32 + GroupNorm 4 + ReLU each, to the stride-4
# grid); pairs within radius 10 at stride 4 (band paths, cropped source set, seeds read at
# pixel 4i + 2); batch 32, 3 epochs, SGD lr 0.1 poly, weight decay 1e-4; random resize (long
# side 320-640 ~ ratio 0.625-1.25 of 512; the authors rescale the image by 0.5-1.5), flip,
# 512 crop; boundary maps at inference on the image padded to 512x512.
# ImageNet weights: torchvision's resnet50 file (nothing is downloaded):
#   --cfg-options model.backbone.pretrained=checkpoints/resnet50-0676ba61.pth
_base_ = ['./irn_tiny_1xb16-3e_synthetic-128x128.py']

data_root = 'data/VOCdevkit/VOC2012'
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(pad_size_divisor=16),
    backbone=dict(_delete_=True, type='TorchvisionResNet', arch='resnet50', output_stride=16,
                  dilate=False, out_indices=(0, 1, 2, 3), norm_eval=True,
                  pretrained='checkpoints/resnet50-0676ba61.pth'),
    head=dict(in_channels=(256, 512, 1024, 2048)),
    path='band', pair_sources='cropped', seed_sampling='pil_nearest',
    infer_pad_size=crop_size)
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadSeedLabels'),
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.625, 1.25), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='Pad', size=crop_size, pad_val=dict(img=0, seg=255)),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    dataset=dict(_delete_=True, type='VOCImageLabelDataset', data_root=data_root,
                 ann_file='ImageSets/Segmentation/train_aug.txt',
                 data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug',
                                  saliency_path=None),
                 pipeline=train_pipeline))
env_cfg = dict(dist_cfg=dict(backend='nccl'))
