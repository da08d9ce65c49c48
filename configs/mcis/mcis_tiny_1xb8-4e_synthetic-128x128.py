# MCIS on the synthetic benchmark: the tiny CAM classifier with MCIS's head on pairs that
# share a class, 4 epochs of pairs (configs/mcis/README.md, "Settings of each config").
_base_ = ['../cam/cam_tiny_1xb16-8e_synthetic-128x128.py']
custom_imports = dict(imports=['wsss_toolbox.methods.mcis'], allow_failed_imports=False)
model = dict(
    type='MCISClassifier',
    self_pairs=('flip', 0.75),
    head=dict(
        _delete_=True,
        type='MCISHead',
        in_channels=128,
        num_classes=8,
        num_convs=1,  # the tiny CAM head's structure (VGG: 3 convs of 512)
        channels=128,
        init_mode='kaiming_fan_out',
        shared_classifier=False,  # authors' code; True = the paper's single phi
        contrastive=True,
        contrastive_start_epoch=2,  # authors: the contrastive term from (0-based) epoch 2
        contrastive_skip_empty='own_side_empty',
        loss_weighting='code',  # 'paper' = Eq. 10 literally (CE_m + CE_n per term)
        loss_cls=dict(type='MultiLabelSoftMarginLoss')))
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
mcis_inference = dict(mode='fusion', num_related=3, related_seed=0, input_size=None,
                      fusion_resize='cv2_uint8')
map_inference = dict(scales=(1.0, ), flip=False, fusion='mean')
pseudo_labels = dict(
    _delete_=True,
    generator=dict(type='SaliencyLabelGenerator', att_threshold=0.3, conflict_threshold=0.99,
                   sal_ignore=32 / 255, att_ignore=0.95),
    refiners=[])
