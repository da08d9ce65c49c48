# OAA with the authors' settings that fit the tiny classifier (README, "Authors' settings vs
# the paper reading").
_base_ = ['./oaa_tiny_1xb16-8e_synthetic-128x128.py']
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='ColorJitterBGR', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1,
         backend='pil'),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(sampler=dict(shuffle=False), dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(optimizer=dict(nesterov=True))
custom_hooks = [
    dict(type='CumulativeMapRecorderHook', fusion='max', score_rule='topk_sigmoid',
         attention_normalization='add_eps', skip_first_epoch=True,
         fill_missing_in_last_epoch=True, store=dict(bits=8),
         export=dict(mode='authors', raw_dir='cumulative_maps_raw', dir='cumulative_maps')),
]
