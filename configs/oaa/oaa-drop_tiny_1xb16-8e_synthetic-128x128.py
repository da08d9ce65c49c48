# OAA++: + attention drop layer, beta 0.5, delta 0.6 (README, "Attention drop").
_base_ = ['./oaa_tiny_1xb16-8e_synthetic-128x128.py']
custom_hooks = [
    dict(type='CumulativeMapRecorderHook', fusion='max', score_rule='paper', store=dict(bits=8),
         export=dict(dir='cumulative_maps')),
    dict(type='AttentionDropHook', drop_prob=0.5, threshold=0.6),
]
