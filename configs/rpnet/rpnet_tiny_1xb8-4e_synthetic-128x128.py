# RPNet on the synthetic benchmark: the tiny CAM backbone on pairs of images sharing a class
# with RPNet's head, 4 epochs of pairs (configs/rpnet/README.md, "Settings of each config").
_base_ = ['../cam/cam_tiny_1xb16-8e_synthetic-128x128.py']
custom_imports = dict(imports=['wsss_toolbox.methods.rpnet'], allow_failed_imports=False)
group_size = 2  # images per group (Table VII: 1-4)
model = dict(
    type='RPNetClassifier',
    backbone=dict(out_indices=(1, 3)),  # block 2 (64 ch, stride 4), block 4 (128, stride 8)
    head=dict(
        _delete_=True,
        type='RPNetHead',
        in_channels=128,
        num_classes=8,
        channels=512,  # code: D = 512, 1x1, no bias (paper: 256)
        in_index=-1,
        prototype_indices=(0, -1),  # block 2 + block 4 (Table IV)
        confident_threshold=0.3,  # alpha
        discard_prob=0.5,  # beta (Table V)
        full_mask_prototypes=True,  # code: full + discarded mask; paper: discarded only
        similarity_scale=1.3,
        gaussian_size=5,
        gaussian_sigma=3.0,  # None: no Gaussian (Table VI)
        enhance_scales=(1.0, 0.5, 1.5, 2.0),  # code; scale 1 only: L_s falls to ~0
        similarity_loss='cam',  # code; 'feature': Eq. 13
        similarity_loss_weight=10.0,  # lambda
        cls_loss_branch='original',  # code; 'enhanced': the paper's L_c
        separate_partner_head=True,  # code: separate q / r classifiers
        non_local=False,  # code's non-local blocks (an option)
        loss_cls=dict(type='MultiLabelSoftMarginLoss')))
train_dataloader = dict(
    batch_size=8,  # groups; the model sees 8 * group_size images
    sampler=dict(_delete_=True, type='ClassPairSampler', group_size=group_size, shuffle=True),
    collate_fn=dict(type='group_collate'),
    dataset=dict(_delete_=True, type='ImageGroupDataset', group_size=group_size,
                 dataset={{_base_.train_dataloader.dataset}}))
custom_hooks = [dict(type='GroupSizeCheckHook')]
max_epochs = 4
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[3], gamma=0.1)]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
# fused on the image grid, kept for the fingerprints of finished runs (README)
map_inference = dict(scales=(1.0, 0.5, 1.5, 2.0), flip=True, fusion='mean')
