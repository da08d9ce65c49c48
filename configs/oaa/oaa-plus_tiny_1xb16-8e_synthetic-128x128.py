# OAA+ (integral attention model, Sec. 3.4) on the synthetic benchmark: the classifier
# without GAP / classification loss, trained with the hybrid loss (Eqs. 7-9, tau = 0) on the
# cumulative maps of an OAA run as soft pixel labels.
#
# Two steps (the soft labels must exist first):
#   .venv/bin/python tools/train.py configs/oaa/oaa_tiny_1xb16-8e_synthetic-128x128.py \
#       --work-dir work_dirs/oaa_tiny_1xb16-8e_synthetic-128x128
#   .venv/bin/python tools/train.py configs/oaa/oaa-plus_tiny_1xb16-8e_synthetic-128x128.py
# A different OAA run: --cfg-options train_dataloader.dataset.pipeline.1.map_dir=DIR
# Stage 2 then infers maps from this model as for CAM: ReLU(F^), normalised by the maximum.
_base_ = ['../cam/cam_tiny_1xb16-8e_synthetic-128x128.py']
# OAA's components (recorder / drop hooks, integral attention head, losses, soft-label
# transforms) are a method folder, imported as any third-party plugin would be
custom_imports = dict(imports=['wsss_toolbox.methods.oaa'], allow_failed_imports=False)

soft_label_dir = 'work_dirs/oaa_tiny_1xb16-8e_synthetic-128x128/cumulative_maps'
model = dict(
    head=dict(
        _delete_=True,
        type='IntegralAttentionHead',
        in_channels=128,
        num_classes=8,
        num_convs=1,
        channels=128,
        loss_soft=dict(type='HybridLoss', tau=0.0, reduction='per_class'),
        # the MCE baseline (Eq. 6, Table 4): loss_soft=dict(type='MCELoss')
        label_resize_mode='area'))
# the soft labels follow any geometric transform; we keep OAA's fixed geometry (the paper
# uses the classifier's settings for the integral attention model)
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadCumulativeMaps', map_dir=soft_label_dir),
    dict(type='PackWSSSInputsWithSoftMaps'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
# stage 2b (tools/make_pseudo_labels.py): OAA's saliency-guided labels (attention -> objects,
# saliency -> background, conflicts ignored; paper Sec. 4 (opening), authors' gen_gt.py), no CRF
pseudo_labels = dict(_delete_=True, generator=dict(type='SaliencyLabelGenerator'), refiners=[])
