# OAA (max fusion) on the synthetic benchmark with the authors' settings (configs/oaa/README.md,
# "Departures from the paper and the authors' code") that do not depend on VGG-16 / ImageNet:
# top-K of float32 sigmoid probabilities, A = ReLU(F) / (max + 1e-8), first epoch skipped,
# export by one bicubic uint8 resize of the stored map (+ the stored maps themselves in
# cumulative_maps_raw), loader not shuffled,
# ColorJitter (0.3, 0.3, 0.3, 0.1) on the PIL image with numpy's draws (backend='pil', after
# OAA-PyTorch's utils/transforms/; 'tensor' = torchvision's float-HSV jitter, with which the
# README's "authors" rows of 2026-11-27 ran), Nesterov SGD. Kept from the benchmark's
# classifier: the tiny backbone trained from scratch (no 2x2-pool VGG, no backbone /
# new-layer lr multipliers), 128x128 images at their size (all the same, so the short-side
# resize has nothing to do), batch 16 without accumulation (so the authors' per-epoch
# accumulation count does not apply), lr 0.05, weight decay 1e-4.
# The paper-reading counterpart: oaa_tiny_1xb16-8e_synthetic-128x128.py.
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
]
