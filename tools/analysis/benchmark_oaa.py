"""Cost of OAA's hooks: training throughput of plain CAM training vs CAM + cumulative-map
recorder vs CAM + recorder + attention drop layer, measured in one run, and the store size.

    .venv/bin/python tools/analysis/benchmark_oaa.py [--data-root DIR] [--num-images 96]
        [--image-size 128] [--batch-size 16] [--epochs 3] [--repeats 3] [--out result.json]

The three variants train the same model on the same images (the tiny CAM classifier of
configs/cam/cam_tiny_1xb16-8e_synthetic-128x128.py with OAA's fixed-geometry pipeline, no
validation, no checkpoints); their runs are interleaved (plain, recorder, drop, plain, ...) so
that drifts of the machine's speed hit all of them alike. Throughput counts the training
iterations after ``--warmup`` iterations of every run, hooks and data loading included. The
ratios are medians over the repeats of the per-repeat ratios. On a busy machine these ratios
are noisy, so the script also times the hooks' own calls (recorder ``after_train_iter``, drop
``before_train_iter``) and reports them as a fraction of a plain iteration. Without
``--data-root`` a small synthetic benchmark is generated into a temporary folder.

The store size is measured on the recorder run and projected to PASCAL VOC train_aug
(10,582 images, 15,555 (image, class) maps) at the VGG-16 feature size of a 224x224 input
(28x28 cells, output stride 8).
"""
import argparse
import copy
import json
import os.path as osp
import statistics
import tempfile
import time
from typing import Dict, List

import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from wsss_toolbox.datasets.synthetic_benchmark import generate_synthetic_benchmark
from wsss_toolbox.engine.config import load_config
from wsss_toolbox.methods.oaa.store import CumulativeMapStore
from wsss_toolbox.utils import register_all_modules

VOC_TRAIN_AUG_IMAGES = 10582
VOC_TRAIN_AUG_MAPS = 15555
VOC_FEATURE_SIZE = (28, 28)
VARIANTS = ('plain', 'recorder', 'recorder+drop')


class IterationTimer(Hook):
    """Wall time of the training iterations after the first ``warmup`` ones."""

    priority = 'LOWEST'

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.count = 0
        self.start = None
        self.end = None

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if self.count == self.warmup:
            self.start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.count += 1
        self.end = time.perf_counter()

    @property
    def iterations_per_second(self) -> float:
        timed = self.count - self.warmup
        if self.start is None or timed <= 0:
            raise RuntimeError('not enough iterations for the warm-up; raise --epochs or '
                               '--num-images, or lower --warmup')
        return timed / (self.end - self.start)


def build_config(args, data_root: str, work_dir: str) -> Config:
    cfg = load_config(args.config)  # a syntax error names the file and line
    pipeline = [dict(type='LoadImageWithCheck'), dict(type='PackWSSSInputs')]
    cfg.train_dataloader.dataset.update(data_root=data_root, pipeline=pipeline)
    cfg.train_dataloader.update(batch_size=args.batch_size, num_workers=args.workers,
                                persistent_workers=False)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=args.epochs,
                         val_interval=args.epochs + 1)
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator', 'test_dataloader', 'test_cfg',
                'test_evaluator'):
        cfg[key] = None
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10**6)
    cfg.log_level = 'WARNING'
    cfg.work_dir = work_dir
    return cfg


def hooks_of(variant: str) -> List[dict]:
    recorder = dict(type='CumulativeMapRecorderHook', fusion='max', export=dict(dir=None))
    if variant == 'plain':
        return []
    if variant == 'recorder':
        return [recorder]
    return [recorder, dict(type='AttentionDropHook', drop_prob=0.5, threshold=0.6)]


def _timed(method, total: List[float]):
    """Wrap a bound hook method so that its wall time is added to ``total[0]``."""

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            total[0] += time.perf_counter() - start

    return wrapper


def run_once(base_cfg: Config, variant: str, index: int, warmup: int) -> dict:
    cfg = copy.deepcopy(base_cfg)
    cfg.custom_hooks = hooks_of(variant)
    cfg.experiment_name = f'benchmark_oaa_{index}_{variant.replace("+", "_")}'
    cfg.visualizer = dict(cfg.visualizer, name=cfg.experiment_name)
    runner = Runner.from_cfg(cfg)
    timer = IterationTimer(warmup)
    runner.register_hook(timer)
    spent = {'recorder': [0.0], 'drop': [0.0]}
    for hook in runner.hooks:
        if type(hook).__name__ == 'CumulativeMapRecorderHook':
            hook.after_train_iter = _timed(hook.after_train_iter, spent['recorder'])
        elif type(hook).__name__ == 'AttentionDropHook':
            hook.before_train_iter = _timed(hook.before_train_iter, spent['drop'])
    runner.train()
    result = dict(variant=variant, its=timer.iterations_per_second,
                  recorder_seconds_per_iter=spent['recorder'][0] / timer.count,
                  drop_seconds_per_iter=spent['drop'][0] / timer.count)
    recorders = [h for h in runner.hooks if type(h).__name__ == 'CumulativeMapRecorderHook']
    if recorders:
        store = recorders[0].store
        result.update(store_bytes=store.nbytes, store_maps=store.num_maps,
                      feature_shape=next(iter(store.state_dict()['entries'].values())
                                         )['values'].shape[1:])
    return result


def projected_sizes() -> Dict[str, float]:
    """Bytes of the VOC train_aug store (15,555 maps of 28x28 cells) per configuration."""
    height, width = VOC_FEATURE_SIZE
    sizes = {}
    for fusion in ('max', 'mean'):
        for bits in (8, 16):
            for keep_last in (False, True):
                store = CumulativeMapStore(fusion=fusion, bits=bits, keep_last=keep_last)
                name = f'{fusion}, {bits}-bit' + (', + last map (drop)' if keep_last else '')
                sizes[name] = store.bytes_per_map(height, width) * VOC_TRAIN_AUG_MAPS
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--config', default='configs/cam/cam_tiny_1xb16-8e_synthetic-128x128.py',
                        help='stage-1 CAM config whose model and schedule are timed')
    parser.add_argument('--data-root', help='a synthetic benchmark (default: generate one)')
    parser.add_argument('--num-images', type=int, default=96,
                        help='training images of the generated benchmark')
    parser.add_argument('--image-size', type=int, default=128)
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=2, help='untimed iterations per run')
    parser.add_argument('--workers', type=int, default=0, help='data-loader workers')
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    parser.add_argument('--out', help='also write the results as JSON')
    args = parser.parse_args()

    register_all_modules(init_default_scope=False)
    torch.set_num_threads(args.threads)
    tmp = tempfile.TemporaryDirectory(prefix='benchmark_oaa_')
    data_root = args.data_root
    if data_root is None:
        data_root = osp.join(tmp.name, 'data')
        generate_synthetic_benchmark(data_root, num_train=args.num_images, num_val=2,
                                     image_size=args.image_size, seed=0)
    base_cfg = build_config(args, data_root, osp.join(tmp.name, 'work'))

    runs: List[dict] = []
    for repeat in range(args.repeats):
        for variant in VARIANTS:
            result = run_once(base_cfg, variant, repeat, args.warmup)
            result['repeat'] = repeat
            runs.append(result)
            print(f'repeat {repeat}  {variant:<14} {result["its"]:8.2f} it/s', flush=True)

    its = {v: [r['its'] for r in runs if r['variant'] == v] for v in VARIANTS}
    ratios = {v: statistics.median(its[v][i] / its['plain'][i] for i in range(args.repeats))
              for v in VARIANTS}
    plain_seconds = 1 / statistics.median(its['plain'])
    recorder_seconds = statistics.median(
        r['recorder_seconds_per_iter'] for r in runs if r['variant'] != 'plain')
    drop_seconds = statistics.median(
        r['drop_seconds_per_iter'] for r in runs if r['variant'] == 'recorder+drop')
    recorder_run = next(r for r in runs if r['variant'] == 'recorder')
    bytes_per_map = recorder_run['store_bytes'] / recorder_run['store_maps']
    summary = dict(
        settings=dict(config=args.config, images=args.num_images, image_size=args.image_size,
                      batch_size=args.batch_size, epochs=args.epochs, repeats=args.repeats,
                      threads=args.threads, workers=args.workers),
        iterations_per_second={v: statistics.median(its[v]) for v in VARIANTS},
        throughput_ratio=ratios,
        recorder_overhead=1 - ratios['recorder'],
        drop_overhead=1 - ratios['recorder+drop'],
        hook_milliseconds_per_iteration=dict(recorder=1e3 * recorder_seconds,
                                             drop=1e3 * drop_seconds,
                                             plain_iteration=1e3 * plain_seconds),
        hook_time_fraction=dict(recorder=recorder_seconds / plain_seconds,
                                drop=drop_seconds / plain_seconds),
        store=dict(bytes_per_map=bytes_per_map,
                   feature_shape=list(recorder_run['feature_shape']),
                   maps=recorder_run['store_maps']),
        voc_train_aug_projection=dict(images=VOC_TRAIN_AUG_IMAGES, maps=VOC_TRAIN_AUG_MAPS,
                                      feature_shape=list(VOC_FEATURE_SIZE),
                                      bytes=projected_sizes()),
        runs=runs)

    print()
    print(f'{"variant":<16}{"it/s (median)":>14}{"ratio":>8}')
    for variant in VARIANTS:
        print(f'{variant:<16}{summary["iterations_per_second"][variant]:>14.2f}'
              f'{ratios[variant]:>8.3f}')
    print(f'recorder overhead: {100 * summary["recorder_overhead"]:.1f} %   '
          f'recorder + drop: {100 * summary["drop_overhead"]:.1f} %')
    print(f'time inside the hooks (measured around their calls, independent of machine '
          f'load drift): recorder {1e3 * recorder_seconds:.2f} ms/iter = '
          f'{100 * recorder_seconds / plain_seconds:.2f} % of a plain iteration '
          f'({1e3 * plain_seconds:.1f} ms); drop {1e3 * drop_seconds:.2f} ms/iter = '
          f'{100 * drop_seconds / plain_seconds:.2f} %')
    shape = 'x'.join(str(v) for v in recorder_run['feature_shape'])
    print(f'store: {bytes_per_map:.0f} bytes per map ({shape} cells, 8-bit max fusion, count '
          'included)')
    print(f'projected VOC train_aug store ({VOC_TRAIN_AUG_MAPS} maps of 28x28 cells):')
    for name, size in projected_sizes().items():
        print(f'  {name:<36}{size / 2**20:8.1f} MiB')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(summary, f, indent=2, default=str)
    tmp.cleanup()


if __name__ == '__main__':
    main()
