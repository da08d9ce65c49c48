# OAA++ on VOC 2012: OAA + the attention drop layer (Algorithm 1) with the paper's best
# drop rate beta = 0.5 and threshold delta = 0.6 (Table 8), same schedule (Table 10), in the
# authors' form (their released code): for every ground-truth class the last *stored*
# attention (the per-class map of the last visit whose score passed the top-K condition, none
# in the skipped first epoch, never the last-epoch fill) is resized to the input, thresholded,
# and the union of the class masks is occluded with pixels that are exactly 0 after
# normalisation. Paper-reading options: previous='last_visit', mask='max', exact_fill=False.
_base_ = ['./oaa_vgg16_1xb5-15e_voc12aug-224x224.py']
custom_hooks = [
    dict(
        type='CumulativeMapRecorderHook',
        fusion='max',
        score_rule='topk_sigmoid',
        attention_normalization='add_eps',
        bits=8,
        skip_first_epoch=True,
        fill_missing_in_last_epoch=True,
        export_mode='authors',
        export_raw_dir='cumulative_maps_raw',
        export_dir='cumulative_maps'),
    dict(type='AttentionDropHook', drop_prob=0.5, threshold=0.6, previous='stored',
         mask='union', exact_fill=True),
]
