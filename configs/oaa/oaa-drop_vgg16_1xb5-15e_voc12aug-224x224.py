# OAA++ on VOC 2012: OAA + the attention drop layer (Algorithm 1) with the paper's best
# drop rate beta = 0.5 and threshold delta = 0.6 (Table 8), same 30k-iteration schedule
# (Table 10). Occluded pixels take the mean colour (0 after normalisation, authors' code).
_base_ = ['./oaa_vgg16_1xb5-15e_voc12aug-224x224.py']
custom_hooks = [
    dict(
        type='CumulativeMapRecorderHook',
        fusion='max',
        score_rule='paper',
        bits=8,
        export_dir='cumulative_maps'),
    dict(type='AttentionDropHook', drop_prob=0.5, threshold=0.6),
]
