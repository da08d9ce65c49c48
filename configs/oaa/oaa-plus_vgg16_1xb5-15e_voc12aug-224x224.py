# OAA+ on VOC 2012: the integral attention model (Sec. 3.4) -- the OAA classifier without GAP
# and classification loss, trained with the hybrid loss on the cumulative maps of an OAA run
# -- after the authors' released code (scripts/train_iam.py, utils/LoadData.py L126-207;
# configs/oaa/README.md, "Departures from the paper and the authors' code"):
#   * targets: the OAA run's *stored* uint8 cumulative maps at feature resolution / 255
#     (<oaa work dir>/cumulative_maps_raw, LoadStoredCumulativeMaps), no resizing;
#   * loss: N+ / N- pooled over the classes of each image, tau = 0.001, and the per-image
#     losses of the 5 accumulated iterations summed, not averaged (loss_weight 5 undoes
#     the division of each accumulated loss by accumulative_counts = 5);
#   * the classifier's backbone, optimiser and data settings (oaa_vgg16_...py), the count of
#     accumulated iterations restarting every epoch included (train_iam.py L113, L124-128).
# Paper-reading options: LoadCumulativeMaps(map_dir=<oaa work dir>/cumulative_maps) before a
# Resize + label_resize_mode='area', HybridLoss(tau=0.0, reduction='per_class',
# batch_reduction='mean', loss_weight=1.0).
# Stage 2 infers its maps as for CAM: ReLU(F^), divided by the max.
#
#   .venv/bin/python tools/train.py configs/oaa/oaa_vgg16_1xb5-15e_voc12aug-224x224.py \
#       --work-dir work_dirs/oaa_vgg16_1xb5-15e_voc12aug-224x224
#   .venv/bin/python tools/train.py configs/oaa/oaa-plus_vgg16_1xb5-15e_voc12aug-224x224.py
# Another OAA run: --cfg-options train_dataloader.dataset.pipeline.1.map_dir=DIR
_base_ = ['./oaa_vgg16_1xb5-15e_voc12aug-224x224.py']

soft_label_dir = 'work_dirs/oaa_vgg16_1xb5-15e_voc12aug-224x224/cumulative_maps_raw'
model = dict(
    head=dict(
        _delete_=True,
        type='IntegralAttentionHead',
        in_channels=512,
        num_classes=20,
        num_convs=3,
        channels=512,
        loss_soft=dict(type='HybridLoss', tau=0.001, reduction='pooled_per_image',
                       batch_reduction='sum', loss_weight=5.0),
        # Table 4 ablations: dict(type='MCELoss') (Eq. 6) or
        # dict(type='HybridLoss', use_constraint=False) ("EP", Eq. 7 only)
        label_resize_mode='none'))
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    # stored maps at feature resolution: not moved by the geometric transforms
    dict(type='LoadStoredCumulativeMaps', map_dir=soft_label_dir),
    dict(type='ResizeShortSide', size=224, interpolation='bicubic', backend='pil',
         long_side_rounding='round'),
    dict(type='ColorJitterBGR', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1,
         backend='pil'),
    dict(type='PackWSSSInputsWithSoftMaps'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
# the integral attention model records no maps
custom_hooks = []
