# OAA++ on the synthetic benchmark with the authors' settings (see
# oaa-authors_tiny_1xb16-8e_synthetic-128x128.py) and the authors' attention drop: per class
# the last stored map (accepted by the score condition), union of the per-class masks, fill
# exactly 0 after normalisation; beta 0.5, delta 0.6. Paper-reading counterpart:
# oaa-drop_tiny_1xb16-8e_synthetic-128x128.py.
_base_ = ['./oaa-authors_tiny_1xb16-8e_synthetic-128x128.py']
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
