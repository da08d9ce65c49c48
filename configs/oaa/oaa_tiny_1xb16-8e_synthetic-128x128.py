# OAA (online attention accumulation, max fusion, Eq. 5) on the embedded synthetic benchmark:
# the tiny CAM classifier of configs/cam/cam_tiny_1xb16-8e_synthetic-128x128.py plus the
# recorder hook, which
# fuses the training forward's attention into per-image cumulative maps and exports them at
# the end of training to <work_dir>/cumulative_maps (stage 2's map format).
#
#   .venv/bin/python tools/train.py configs/oaa/oaa_tiny_1xb16-8e_synthetic-128x128.py \
#       --cfg-options train_dataloader.dataset.data_root=DIR val_dataloader.dataset.data_root=DIR
#
# Paper reading (Sec. 3.2): the paper's score rule (target score above every non-target score),
# M initialised in the first epoch (paper; the authors' code skips it), fixed geometry.
_base_ = ['../cam/cam_tiny_1xb16-8e_synthetic-128x128.py']
# OAA's components (recorder / drop hooks, integral attention head, losses, soft-label
# transforms) are a method folder, imported as any third-party plugin would be
custom_imports = dict(imports=['wsss_toolbox.methods.oaa'], allow_failed_imports=False)

# OAA needs the same geometry at every visit of an image: no random flip / crop / resize
# (the CAM baseline flips). The synthetic images all have the same size.
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

# where the recorder writes the maps (relative to work_dir); in a pipeline, OAA's
# `CumulativeMaps` step hands them to stage 2 instead of running map inference
cumulative_map_dir = 'cumulative_maps'
custom_hooks = [
    dict(
        type='CumulativeMapRecorderHook',
        fusion='max',  # 'mean' = Eq. 10 (average fusion)
        score_rule='paper',  # 'topk' = the authors' code
        bits=8,
        backend='memory',  # 'memmap' for datasets whose maps do not fit in memory
        skip_first_epoch=False,  # True = the authors' code
        fill_missing_in_last_epoch=True,  # authors' code: every class gets a map
        export_dir=cumulative_map_dir,
        snapshot_ids=None),  # 'all' or a list of ids: per-epoch copies (growth figure)
]
# stage 2b (tools/make_pseudo_labels.py): OAA's saliency-guided labels (attention -> objects,
# saliency -> background, conflicts ignored; paper Sec. 4 (opening), authors' gen_gt.py), no CRF
pseudo_labels = dict(_delete_=True, generator=dict(type='SaliencyLabelGenerator'), refiners=[])
