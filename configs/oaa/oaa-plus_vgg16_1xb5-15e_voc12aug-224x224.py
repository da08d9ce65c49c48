# OAA+ on VOC 2012: the integral attention model (Sec. 3.4) -- the OAA classifier without GAP
# and classification loss, trained with the hybrid loss (Eqs. 7-9, tau = 0; the authors' code
# uses 0.001) on the cumulative maps of an OAA run as soft labels, with the classifier's
# hyper-parameters (paper). Stage 2 infers its maps as for CAM: ReLU(F^), divided by the max.
#
#   .venv/bin/python tools/train.py configs/oaa/oaa_vgg16_1xb5-15e_voc12aug-224x224.py \
#       --work-dir work_dirs/oaa_vgg16_1xb5-15e_voc12aug-224x224
#   .venv/bin/python tools/train.py configs/oaa/oaa-plus_vgg16_1xb5-15e_voc12aug-224x224.py
# Another OAA run: --cfg-options train_dataloader.dataset.pipeline.1.map_dir=DIR
_base_ = ['../cam/cam_vgg16_1xb5-15e_voc12aug-224x224.py']
# OAA's components (recorder / drop hooks, integral attention head, losses, soft-label
# transforms) are a method folder, imported as any third-party plugin would be
custom_imports = dict(imports=['wsss_toolbox.methods.oaa'], allow_failed_imports=False)

soft_label_dir = 'work_dirs/oaa_vgg16_1xb5-15e_voc12aug-224x224/cumulative_maps'
model = dict(
    head=dict(
        _delete_=True,
        type='IntegralAttentionHead',
        in_channels=512,
        num_classes=20,
        num_convs=3,
        channels=512,
        loss_soft=dict(type='HybridLoss', tau=0.0, reduction='per_class'),
        # Table 4 ablations: dict(type='MCELoss') (Eq. 6) or
        # dict(type='HybridLoss', use_constraint=False) ("EP", Eq. 7 only)
        label_resize_mode='area'))
input_size = (224, 224)
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    # the soft labels are loaded at the original size and follow the resize
    dict(type='LoadCumulativeMaps', map_dir=soft_label_dir),
    dict(type='Resize', scale=input_size, keep_ratio=False),
    dict(type='PackWSSSInputsWithSoftMaps'),
]
train_dataloader = dict(
    dataset=dict(
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug',
                         saliency_path='Saliency'),
        pipeline=train_pipeline))
# stage 2b (tools/make_pseudo_labels.py): OAA's saliency-guided labels (attention -> objects,
# saliency -> background, conflicts ignored; spec oaa.md §4), no CRF
pseudo_labels = dict(_delete_=True, generator=dict(type='SaliencyLabelGenerator'), refiners=[])
