# OAA++ with the integral attention model: OAA+ on the maps of OAA++ (README, "Configs").
_base_ = ['./oaa-plus_tiny_1xb16-8e_synthetic-128x128.py']
soft_label_dir = 'work_dirs/oaa-drop_tiny_1xb16-8e_synthetic-128x128/cumulative_maps'
train_pipeline = [_base_.train_pipeline[0], dict(type='LoadCumulativeMaps', map_dir=soft_label_dir),
                  _base_.train_pipeline[2]]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
