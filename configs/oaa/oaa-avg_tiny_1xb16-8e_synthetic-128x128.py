# OAA with average fusion (Eq. 10; README, "Configs").
_base_ = ['./oaa_tiny_1xb16-8e_synthetic-128x128.py']
custom_hooks = [dict(type='CumulativeMapRecorderHook', fusion='mean', score_rule='paper',
                     store=dict(bits=8), export=dict(dir='cumulative_maps'))]
