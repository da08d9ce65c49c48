# OAA with average fusion (Eq. 10; README, "Configs").
_base_ = ['./oaa_tiny_1xb16-8e_synthetic-128x128.py']
custom_hooks = [dict(type='CumulativeMapRecorderHook', fusion='mean', score_rule='paper', bits=8,
                     export_dir='cumulative_maps')]
