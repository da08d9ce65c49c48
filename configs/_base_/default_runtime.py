# Runtime settings shared by wsss_toolbox configs (stage 1 and stage 3), iteration-based as
# mmseg's (log_processor/checkpoint by iteration); an epoch-based config overrides
# `log_processor=dict(by_epoch=True)` and `default_hooks.checkpoint.by_epoch`.
# Schedule and dataset bases must not repeat these keys (mmengine forbids duplicate keys
# among bases); leaf configs override them (stage-3 configs use mmseg's SegVisualizationHook and
# SegLocalVisualizer instead of the stage-1 ones below).
default_scope = 'wsss_toolbox'

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # random state per epoch / iteration, so a resumed run equals an uninterrupted one
    # (docs/reproducibility.md)
    resumable_seed=dict(type='ResumableSeedHook'),
    # off until `tools/test.py --show-dir DIR` (or --show) turns it on: then every test image
    # is painted by the visualizer (stage 1: image | ground truth | map of each class)
    visualization=dict(type='MapVisualizationHook'),
)

vis_backends = [dict(type='LocalVisBackend')]
# stage 1: localization maps over the image (wsss_toolbox.visualization.MapLocalVisualizer);
# stage-3 configs replace it with mmseg's SegLocalVisualizer
visualizer = dict(type='MapLocalVisualizer', vis_backends=vis_backends)

log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
# fixed seed for reproducible runs; set seed=None for a random one
randomness = dict(seed=0)
