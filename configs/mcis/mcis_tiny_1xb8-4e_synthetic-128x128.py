# MCIS (co-attention classifier on image pairs, Sun et al. ECCV 2020) on the embedded synthetic
# benchmark: the tiny classifier of configs/cam/cam_tiny_1xb16-8e_synthetic-128x128.py (same
# backbone, data pipeline, optimiser, seed) with MCIS's head on pairs that share a class
# (ClassPairSampler) plus the authors' self-pairs.
#
# Budget: a batch is 8 pairs = 16 images (CAM's 16), and an epoch visits every image once as
# an anchor and once more on average as a partner, so 4 epochs of pairs see every image as
# often as CAM's 8 epochs (lr / 10 after 3 of 4, as CAM's after 6 of 8). The self-pairs are the
# flip and the 0.75x copy: the authors' third one, the 2x copy (4x the pixels), alone would
# double stage 1 on the 2-core CPU benchmark (VOC config: all three).
#
#   .venv/bin/python tools/train.py configs/mcis/mcis_tiny_1xb8-4e_synthetic-128x128.py
# or all three stages: configs/pipelines/mcis_synthetic.py (multi-round maps with the authors'
# fusion and, from the same classifier, single-round maps).
_base_ = ['../cam/cam_tiny_1xb16-8e_synthetic-128x128.py']
custom_imports = dict(imports=['wsss_toolbox.methods.mcis'], allow_failed_imports=False)

model = dict(
    type='MCISClassifier',
    # authors' extra pairs: (I, flip I), (I, I at 0.75x), (I, I at 2x); () turns them off
    self_pairs=('flip', 0.75),
    head=dict(
        _delete_=True,
        type='MCISHead',
        in_channels=128,
        num_classes=8,
        num_convs=1,  # the tiny CAM head's structure (VGG: 3 convs of 512)
        channels=128,
        # authors (vgg.py L90-96): each new conv N(0, sqrt(2 / (k^2 out))), bias 0 -- here
        # 0.042 for the 3x3 conv, 0.5 for the 8-class phi; 'normal' + init_std = one std
        init_mode='kaiming_fan_out',
        shared_classifier=False,  # authors' code; True = the paper's single phi
        contrastive=True,
        contrastive_start_epoch=2,  # authors: the contrastive term from (0-based) epoch 2
        # authors (train.py L278-282): each side's term left out when that side of the batch
        # has no target; 'both_sides_empty' / 'never' (Eq. 10) are the other readings
        contrastive_skip_empty='own_side_empty',
        loss_weighting='code',  # 'paper' = Eq. 10 literally (CE_m + CE_n per term)
        loss_cls=dict(type='MultiLabelSoftMarginLoss')))

# pairs sharing a class (the anchor may be its own partner; the authors' sampler allows it
# too: utils/LoadData.py L224-226)
train_dataloader = dict(
    batch_size=8,
    sampler=dict(_delete_=True, type='ClassPairSampler', group_size=2, shuffle=True),
    collate_fn=dict(type='group_collate'),
    dataset=dict(
        _delete_=True,
        type='ImageGroupDataset',
        group_size=2,
        dataset={{_base_.train_dataloader.dataset}}))
custom_hooks = [dict(type='MCISTrainingHook')]
max_epochs = 4
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[3], gamma=0.1)]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)

# stage 2 (configs/pipelines/mcis_synthetic.py, MCISInferMaps): the authors' 5-map fusion with
# 3 related images per class; mode='multi_round' (paper, Sec. 3.4) or 'single_round' (basic
# branch). tools/infer_maps.py uses map_inference: the basic branch alone (single-round).
# fusion_resize='cv2_uint8': the fused uint8 map resized by OpenCV, rounded to uint8 (authors'
# test.py L105); 'float' keeps the resized values unrounded
mcis_inference = dict(mode='fusion', num_related=3, related_seed=0, input_size=None,
                      fusion_resize='cv2_uint8')
map_inference = dict(scales=(1.0, ), flip=False, fusion='mean')
# stage 2b: MCIS's saliency-guided labels (OAA's rule with conflict 0.99, att 0.95; fg 0.3,
# background saliency 32), no CRF
pseudo_labels = dict(
    _delete_=True,
    generator=dict(type='SaliencyLabelGenerator', att_threshold=0.3, conflict_threshold=0.99,
                   sal_ignore=32 / 255, att_ignore=0.95),
    refiners=[])
