# OAA+++ : the integral attention model trained on the cumulative maps of OAA++ (attention
# drop layer) instead of OAA.
#   .venv/bin/python tools/train.py configs/oaa/oaa-drop_tiny_1xb16-8e_synthetic-128x128.py \
#       --work-dir work_dirs/oaa-drop_tiny_1xb16-8e_synthetic-128x128
#   .venv/bin/python tools/train.py configs/oaa/oaa-drop-plus_tiny_1xb16-8e_synthetic-128x128.py
_base_ = ['./oaa-plus_tiny_1xb16-8e_synthetic-128x128.py']
soft_label_dir = 'work_dirs/oaa-drop_tiny_1xb16-8e_synthetic-128x128/cumulative_maps'
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadCumulativeMaps', map_dir=soft_label_dir),
    dict(type='PackWSSSInputsWithSoftMaps'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
