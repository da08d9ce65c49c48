# DeepLab schedule (Chen et al.; OAA / SeeNet / MCIS stage 3): SGD momentum 0.9, weight decay
# 5e-4, lr 1e-3 with the decode head (newly initialised layers) at 10x, poly decay with power
# 0.9 down to 0, 15k iterations (OAA: batch 10, 15k iterations).
max_iters = 15000
optimizer = dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=optimizer,
    clip_grad=None,
    paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.)}))
param_scheduler = [
    dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=max_iters, by_epoch=False)
]
# changing max_iters on the command line also needs param_scheduler's `end`
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
