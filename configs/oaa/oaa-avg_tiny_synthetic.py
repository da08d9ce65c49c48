# OAA with average fusion (Eq. 10; the paper's "AVE" ablation, Table 4) on the synthetic
# benchmark. Identical to oaa_tiny_synthetic.py except for the fusion rule.
_base_ = ['./oaa_tiny_synthetic.py']
custom_hooks = [
    dict(
        type='CumulativeMapRecorderHook',
        fusion='mean',
        score_rule='paper',
        bits=8,
        export_dir='cumulative_maps'),
]
