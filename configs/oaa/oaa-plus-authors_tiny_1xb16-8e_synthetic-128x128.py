# OAA+ (integral attention model, Sec. 3.4) on the synthetic benchmark with the authors'
# settings (configs/oaa/README.md, "Authors' settings vs the paper reading"):
#   * targets: the OAA run's *stored* uint8 cumulative maps at feature resolution / 255
#     (<oaa-authors work dir>/cumulative_maps_raw, LoadStoredCumulativeMaps), not resized;
#   * loss: N+ / N- pooled over the classes of each image, tau = 0.001, at the scale of the
#     authors' sum over an iteration of 5 images (loss_weight 5 on the batch mean: the
#     authors' sum of 5 per-image losses is 5x their mean; a sum over our batch of 16 would
#     be 16x);
#   * the classifier's data and optimiser settings (oaa-authors_tiny_...py: loader not
#     shuffled, ColorJitter on the PIL image, Nesterov).
# The paper-reading counterpart: oaa-plus_tiny_1xb16-8e_synthetic-128x128.py.
#   .venv/bin/python tools/train.py configs/oaa/oaa-authors_tiny_1xb16-8e_synthetic-128x128.py \
#       --work-dir work_dirs/oaa-authors_tiny_1xb16-8e_synthetic-128x128
#   .venv/bin/python tools/train.py configs/oaa/oaa-plus-authors_tiny_1xb16-8e_synthetic-128x128.py
_base_ = ['./oaa-authors_tiny_1xb16-8e_synthetic-128x128.py']

soft_label_dir = 'work_dirs/oaa-authors_tiny_1xb16-8e_synthetic-128x128/cumulative_maps_raw'
model = dict(
    head=dict(
        _delete_=True,
        type='IntegralAttentionHead',
        in_channels=128,
        num_classes=8,
        num_convs=1,
        channels=128,
        loss_soft=dict(type='HybridLoss', tau=0.001, reduction='pooled_per_image',
                       batch_reduction='mean', loss_weight=5.0),
        label_resize_mode='none'))
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    # stored maps at feature resolution: not moved by the transforms that follow
    dict(type='LoadStoredCumulativeMaps', map_dir=soft_label_dir),
    dict(type='ColorJitterBGR', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1,
         backend='pil'),
    dict(type='PackWSSSInputsWithSoftMaps'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
# the integral attention model records no maps
custom_hooks = []
pseudo_labels = dict(_delete_=True, generator=dict(type='SaliencyLabelGenerator'), refiners=[])
