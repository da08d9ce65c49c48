# RPNet (region prototypical network) on the embedded synthetic benchmark: the tiny backbone of
# configs/cam/cam_tiny_1xb16-8e_synthetic-128x128.py (same data, seed, optimiser) trained on
# pairs of images that share a class, with RPNet's head instead of the CAM head.
#
#   python tools/train.py configs/rpnet/rpnet_tiny_1xb8-4e_synthetic-128x128.py
#   python tools/infer_maps.py configs/rpnet/rpnet_tiny_1xb8-4e_synthetic-128x128.py \
#       work_dirs/rpnet_tiny_1xb8-4e_synthetic-128x128/epoch_4.pth \
#       --out-dir work_dirs/rpnet_tiny_1xb8-4e_synthetic-128x128/maps
# or all three stages: configs/pipelines/rpnet_synthetic.py.
#
# Budget: a batch is 8 pairs = 16 images (the CAM baseline's 16), and an epoch visits every
# image once as an anchor and once more on average as a partner, so 4 epochs of pairs see
# every image as often as the baseline's 8 epochs (the learning rate drops after 3 of 4, as
# the baseline's after 6 of 8).
_base_ = ['../cam/cam_tiny_1xb16-8e_synthetic-128x128.py']
custom_imports = dict(imports=['wsss_toolbox.methods.rpnet'], allow_failed_imports=False)

group_size = 2  # images per group (Table VII: 1-4)
model = dict(
    type='RPNetClassifier',
    # block 2 (stage 1 here: 64 channels, stride 4) and block 4 (stage 3: 128, stride 8)
    backbone=dict(out_indices=(1, 3)),
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
        # code: L_s compares the scale-1 CAMs with the enhanced CAMs averaged over scales 1,
        # 0.5, 1.5, 2 (no gradient through the extra three). With scale 1 only, L_s falls to
        # ~0 within 20 iterations (the features align so that F^ is flat): keep the four.
        enhance_scales=(1.0, 0.5, 1.5, 2.0),
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

# the code's views: original branch, single images, scales 1, 0.5, 1.5, 2 and flips, fused on
# the image grid here (tools/infer_maps.py; --cfg-options map_inference.aggregation=feature_grid
# gives the code's make_cam arithmetic, which configs/pipelines/rpnet*_synthetic.py use; this
# entry stays as it is so that finished stage-1 runs keep their fingerprint)
map_inference = dict(scales=(1.0, 0.5, 1.5, 2.0), flip=True, fusion='mean')
