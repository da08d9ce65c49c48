"""Stage-3 throughput: the toolbox's DeepLab config against plain mmseg's ``EncoderDecoder``
with the same backbone, training and inference images/s measured in one run.

    .venv/bin/python tools/analysis/benchmark_stage3.py [--device cuda] [--batch-size 10]
        [--crop-size 321] [--iters 20] [--warmup 5] [--repeats 3] [--amp] [--channels-last]
        [--out result.json]

Variants, all built from ``--config`` (default: the VGG-16 DeepLab-LargeFOV config of the
papers) with seeded random weights, the same backbone and the same batches:

* ``toolbox``: the config's model (``CRFEncoderDecoder`` + ``LargeFOVHead``, no test-time
  CRF).
* ``mmseg_encdec``: mmseg's ``EncoderDecoder`` around the same backbone and head, i.e. the
  cost of the toolbox's segmentor class alone (the ratio should stay near 1).
* ``mmseg_fcn``: mmseg's ``EncoderDecoder`` + mmseg's own ``FCNHead`` of the nearest shape
  (two convs of the head's channels, kernel 3, the head's dilation, no norm, its dropout):
  what a plain-mmseg user would write. LargeFOV's second conv (fc7) is 1x1, FCNHead's is
  3x3, so this one does more arithmetic.

Training: ``model.train_step`` (preprocessing, forward, loss, backward, SGD step) with
mmengine's ``OptimWrapper`` (``AmpOptimWrapper``, float16, with ``--amp``; CUDA only).
Inference: ``model.test_step`` (whole-image mode, logits resized to the image, argmax) under
``torch.no_grad``, in mmengine's ``autocast`` with ``--amp``. Batches are made once (random
images and labels of ``--crop-size``), so data loading is not timed. Each repeat times every
variant in turn (interleaved, so that drifts of a shared machine hit all of them); the table
shows medians over the repeats, the ratios are medians of the per-repeat ratios. On a CPU,
use tiny sizes, e.g. ``--batch-size 2 --crop-size 64 --iters 2 --warmup 1 --repeats 1``.
"""
import argparse
import copy
import json
import platform
import statistics
import time
from typing import Callable, Dict, List

import torch
from mmengine.config import Config, ConfigDict
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner.amp import autocast
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from wsss_toolbox.engine.config import load_config
from wsss_toolbox.registry import MODELS
from wsss_toolbox.utils import register_all_modules

DEFAULT_CONFIG = 'configs/deeplab/deeplab-largefov_vgg16_1xb10-15k_voc12aug-pseudo-321x321.py'
VARIANTS = ('toolbox', 'mmseg_encdec', 'mmseg_fcn')


def variant_model_cfg(cfg: Config, variant: str, crop_size: int) -> ConfigDict:
    """The model config of ``variant`` (module docstring), test-time CRF off."""
    model = copy.deepcopy(cfg.model)
    model.data_preprocessor.size = (crop_size, crop_size)
    model.test_cfg = dict(mode='whole')
    if variant == 'toolbox':
        model.test_cfg['crf'] = None
        return model
    if variant not in VARIANTS:
        raise ValueError(f'unknown variant {variant!r}; choose from {VARIANTS}')
    model.type = 'mmseg.EncoderDecoder'
    if variant == 'mmseg_fcn':
        head = model.decode_head
        model.decode_head = ConfigDict(
            type='mmseg.FCNHead', in_channels=head.in_channels, in_index=head.in_index,
            channels=head.channels, num_convs=head.get('num_convs', 2), kernel_size=3,
            dilation=head.get('dilation', 1), concat_input=False,
            dropout_ratio=head.get('dropout_ratio', 0.1), num_classes=head.num_classes,
            norm_cfg=None, align_corners=head.get('align_corners', False),
            loss_decode=head.loss_decode)
    return model


def make_batch(batch_size: int, crop_size: int, num_classes: int, seed: int = 0) -> dict:
    """Random uint8 images and labels of ``crop_size`` as a data loader would give them."""
    generator = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(batch_size):
        inputs.append(torch.randint(0, 256, (3, crop_size, crop_size), generator=generator,
                                    dtype=torch.uint8))
        shape = (crop_size, crop_size)
        sample = SegDataSample(metainfo=dict(img_shape=shape, ori_shape=shape, pad_shape=shape))
        sample.gt_sem_seg = PixelData(data=torch.randint(
            0, num_classes, (1, ) + shape, generator=generator))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def synchronize(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def timed_loop(step: Callable[[], None], iters: int, warmup: int, device: str) -> float:
    """Seconds of ``iters`` calls of ``step`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(iters):
        step()
    synchronize(device)
    return time.perf_counter() - start


class Bench:
    """One variant: its model, optimiser wrapper and batch on ``device``."""

    def __init__(self, cfg: Config, variant: str, args: argparse.Namespace, amp: bool) -> None:
        torch.manual_seed(args.seed)
        self.device, self.amp = args.device, amp
        self.model = MODELS.build(variant_model_cfg(cfg, variant, args.crop_size))
        self.model.to(args.device)
        if args.channels_last:
            self.model.to(memory_format=torch.channels_last)
        wrapper = dict(type='AmpOptimWrapper', dtype='float16') if amp else dict(
            type='OptimWrapper')
        wrapper['optimizer'] = dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4)
        self.optim_wrapper = build_optim_wrapper(self.model, wrapper)
        self.batch = make_batch(args.batch_size, args.crop_size,
                                self.model.decode_head.num_classes, args.seed)
        self.params = sum(p.numel() for p in self.model.parameters())
        self.classes = f'{type(self.model).__name__} + {type(self.model.decode_head).__name__}'

    def train_step(self) -> None:
        self.model.train()
        losses = self.model.train_step(self.batch, self.optim_wrapper)
        if not torch.isfinite(losses['loss']):
            raise FloatingPointError(f'training loss is {losses["loss"]}')

    def infer_step(self) -> None:
        self.model.eval()
        with torch.no_grad(), autocast(device_type=self.device.split(':')[0],
                                       enabled=self.amp):
            self.model.test_step(self.batch)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='stage-3 (DeepLab) config')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda[:N]'")
    parser.add_argument('--batch-size', type=int, default=10)
    parser.add_argument('--crop-size', type=int, default=321)
    parser.add_argument('--iters', type=int, default=20, help='timed iterations per repeat')
    parser.add_argument('--warmup', type=int, default=5, help='untimed iterations per repeat')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--amp', action='store_true',
                        help='also time every variant with float16 mixed precision (CUDA)')
    parser.add_argument('--channels-last', action='store_true',
                        help='models in the channels-last memory format')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='also write the results as JSON to this file')
    args = parser.parse_args(argv)
    if args.device.startswith('cuda'):
        if not torch.cuda.is_available():
            parser.error(f'--device {args.device}: torch {torch.__version__} sees no CUDA '
                         'device on this machine; use --device cpu')
    elif args.device != 'cpu':
        parser.error(f"--device must be 'cpu' or 'cuda[:N]', got {args.device!r}")
    elif args.amp:
        parser.error("--amp needs --device cuda (mmengine's AmpOptimWrapper refuses the CPU)")
    if min(args.batch_size, args.crop_size, args.iters, args.repeats) < 1 or args.warmup < 0:
        parser.error('--batch-size, --crop-size, --iters and --repeats must be >= 1, '
                     '--warmup >= 0')
    return args


def device_name(device: str) -> str:
    if device.startswith('cuda'):
        return torch.cuda.get_device_name(torch.device(device))
    return f'{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads'


def run(args: argparse.Namespace) -> dict:
    register_all_modules(init_default_scope=False)
    init_default_scope('wsss_toolbox')
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    precisions = ['fp32', 'amp'] if args.amp else ['fp32']
    benches = {(v, p): Bench(cfg, v, args, p == 'amp') for p in precisions for v in VARIANTS}
    images = args.batch_size * args.iters
    seconds: Dict[tuple, Dict[str, List[float]]] = {
        key: dict(train=[], infer=[]) for key in benches}
    for repeat in range(args.repeats):
        for key, bench in benches.items():
            for mode, step in (('train', bench.train_step), ('infer', bench.infer_step)):
                seconds[key][mode].append(timed_loop(step, args.iters, args.warmup,
                                                     args.device))
            print(f'repeat {repeat}  {key[0]:<13} {key[1]:<4}  train '
                  f'{images / seconds[key]["train"][-1]:8.1f}  infer '
                  f'{images / seconds[key]["infer"][-1]:8.1f} images/s', flush=True)
    rows = {}
    for (variant, precision), bench in benches.items():
        times = seconds[(variant, precision)]
        base = seconds[('toolbox', precision)]
        rows[f'{variant} {precision}'] = dict(
            variant=variant, precision=precision, model=bench.classes, params=bench.params,
            train_images_per_second=images / statistics.median(times['train']),
            infer_images_per_second=images / statistics.median(times['infer']),
            # > 1: the toolbox is faster than this variant
            toolbox_train_speedup=statistics.median(
                t / b for t, b in zip(times['train'], base['train'])),
            toolbox_infer_speedup=statistics.median(
                t / b for t, b in zip(times['infer'], base['infer'])),
            train_seconds=times['train'], infer_seconds=times['infer'])
    result = dict(
        settings=dict(config=args.config, device=args.device, batch_size=args.batch_size,
                      crop_size=args.crop_size, iters=args.iters, warmup=args.warmup,
                      repeats=args.repeats, amp=args.amp, channels_last=args.channels_last),
        device_name=device_name(args.device), torch=torch.__version__, rows=rows)
    if args.device.startswith('cuda'):
        result['max_memory_allocated_mib'] = torch.cuda.max_memory_allocated() / 2**20
    return result


def print_table(result: dict) -> None:
    print()
    print(f'{"variant":<20}{"params":>12}{"train img/s":>13}{"infer img/s":>13}'
          f'{"toolbox x (train)":>19}{"toolbox x (infer)":>19}')
    for name, row in result['rows'].items():
        print(f'{name:<20}{row["params"]:>12,}{row["train_images_per_second"]:>13.1f}'
              f'{row["infer_images_per_second"]:>13.1f}{row["toolbox_train_speedup"]:>18.2f}x'
              f'{row["toolbox_infer_speedup"]:>18.2f}x')
    s = result['settings']
    print(f'batch {s["batch_size"]} of {s["crop_size"]}x{s["crop_size"]}, {s["iters"]} timed '
          f'iterations x {s["repeats"]} interleaved repeats (medians), channels_last '
          f'{s["channels_last"]}; {result["device_name"]}, torch {result["torch"]}')


def main(argv=None) -> dict:
    args = parse_args(argv)
    result = run(args)
    print_table(result)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main()
