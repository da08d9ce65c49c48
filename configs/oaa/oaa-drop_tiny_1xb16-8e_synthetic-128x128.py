# OAA++ (OAA + attention drop layer, Algorithm 1) on the synthetic benchmark: with
# probability beta = 0.5 an image is fed with the pixels occluded where its attention from
# the previous visit exceeds delta = 0.6 (the paper's best values, Table 8), filled with the
# mean colour (0 after normalisation, authors' code).
_base_ = ['./oaa_tiny_1xb16-8e_synthetic-128x128.py']
custom_hooks = [
    dict(
        type='CumulativeMapRecorderHook',
        fusion='max',
        score_rule='paper',
        bits=8,
        export_dir='cumulative_maps'),
    dict(type='AttentionDropHook', drop_prob=0.5, threshold=0.6),
]
