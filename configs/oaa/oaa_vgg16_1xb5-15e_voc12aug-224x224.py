# OAA (online attention accumulation, max fusion) on PASCAL VOC 2012 train_aug (10,582
# images) with the paper's classifier settings (Sec. 4.1; spec oaa.md §5), inherited from the
# CAM baseline configs/cam/cam_vgg16_1xb5-15e_voc12aug-224x224.py: VGG-16 (ImageNet weights via
# model.backbone.pretrained), 3 extra convs + class-aware 1x1 conv + GAP, batch 5, SGD
# momentum 0.9, lr 1e-3 (new layers x10), weight decay 2e-4 (the authors' code: 5e-4),
# lr / 10 after epoch 10 of 15 (~20k of ~31.7k iterations; the paper: 20k of 30k).
#
#   .venv/bin/python tools/train.py configs/oaa/oaa_vgg16_1xb5-15e_voc12aug-224x224.py \
#       --work-dir work_dirs/oaa_vgg16_1xb5-15e_voc12aug-224x224 \
#       --cfg-options model.backbone.pretrained=checkpoints/vgg16-397923af.pth
# The cumulative maps are written to <work_dir>/cumulative_maps at the end of training (stage
# 2's map format, original image size). Then OAA's saliency-guided pseudo labels (MDC style:
# attention -> objects, DSS saliency -> background, conflicts ignored; spec §4):
#   .venv/bin/python tools/make_pseudo_labels.py \
#       configs/oaa/oaa_vgg16_1xb5-15e_voc12aug-224x224.py \
#       --map-dir work_dirs/oaa_vgg16_1xb5-15e_voc12aug-224x224/cumulative_maps \
#       --out-dir work_dirs/oaa_vgg16_1xb5-15e_voc12aug-224x224/pseudo_labels --nproc 8
# and DeepLab-LargeFOV on them
# (configs/deeplab/deeplab-largefov_vgg16_1xb10-15k_voc12aug-pseudo-321x321.py with
# train_dataloader.dataset.pseudo_label_dir=
#  work_dirs/oaa_vgg16_1xb5-15e_voc12aug-224x224/pseudo_labels).
#
# Paper vs code (spec §8): score rule = the paper's (target score above every non-target
# score; code: top-K); M initialised in the first epoch (paper; code skips epoch 1); fixed
# geometry (224x224 resize, no flip / crop; code: short side 224 + ColorJitter, not used).
_base_ = ['../cam/cam_vgg16_1xb5-15e_voc12aug-224x224.py']
# OAA's components (recorder / drop hooks, integral attention head, losses, soft-label
# transforms) are a method folder, imported as any third-party plugin would be
custom_imports = dict(imports=['wsss_toolbox.methods.oaa'], allow_failed_imports=False)

# stage 2 needs saliency maps for the background (DSS, as the paper): data_root/Saliency
train_dataloader = dict(
    dataset=dict(
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug',
                         saliency_path='Saliency')))

cumulative_map_dir = 'cumulative_maps'
custom_hooks = [
    dict(
        type='CumulativeMapRecorderHook',
        fusion='max',
        score_rule='paper',
        bits=8,  # 15,555 maps of 28x28 cells: 12.2 MB in memory and in every checkpoint
        backend='memory',
        skip_first_epoch=False,
        fill_missing_in_last_epoch=True,
        export_dir=cumulative_map_dir),
]
# stage 2b (tools/make_pseudo_labels.py): OAA's saliency-guided labels (attention -> objects,
# saliency -> background, conflicts ignored; spec oaa.md §4), no CRF
pseudo_labels = dict(_delete_=True, generator=dict(type='SaliencyLabelGenerator'), refiners=[])
