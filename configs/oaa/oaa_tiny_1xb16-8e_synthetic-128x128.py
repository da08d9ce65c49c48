# OAA, max fusion, paper reading; the base of the synthetic classifier variants
# (configs/oaa/README.md, "Configs").
_base_ = ['./_base_/oaa_tiny_synthetic.py']
# fixed geometry at every visit: no flip / crop / resize
train_pipeline = [dict(type='LoadImageWithCheck'), dict(type='PackWSSSInputs')]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
cumulative_map_dir = 'cumulative_maps'
custom_hooks = [
    dict(type='CumulativeMapRecorderHook', fusion='max', score_rule='paper',
         skip_first_epoch=False, fill_missing_in_last_epoch=True,
         store=dict(bits=8, backend='memory'),
         export=dict(dir=cumulative_map_dir, snapshot_ids=None)),
]
