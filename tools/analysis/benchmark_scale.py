"""Stage 2 at scale: time, peak memory and bytes written per image of every stage-2 step at
several image sizes, the exponent ``a`` of ``time ∝ pixels^a``, and the extrapolation to
PASCAL VOC (10,582 images of 500x375) and COCO (82,783 of 640x480).

    .venv/bin/python tools/analysis/benchmark_scale.py [--sizes 128 256 512]
        [--num-images 8] [--budget 60] [--cores 16] [--threads 1] [--rows maps crf ...]
        [--work-dir work_dirs/bench/scale] [--out FILE.json]

Data: the synthetic benchmark generated at each size (square images). Rows (one process of
``--threads`` torch threads; each row of each size runs in a forked process, so that its
peak RSS is its own):

* ``maps``: map inference of the tiny CAM classifier (``--config``, seeded random weights;
  tools/analysis/benchmark_vs_authors.py ``build_model``) at IRN's 4 scales x flip,
  ``aggregation='feature_grid'``, strided maps at stride 4, map files written;
* ``crf``: threshold 0.3 + DenseCRF labels (the CAM configs' recipe), PNGs written;
* ``seeds``: IRN seeds (two DenseCRFs), PNGs written;
* ``boundary``: the boundary map (image + mirror) of the tiny AffinityNet
  (``--irn-config``, random weights), nothing written;
* ``walk_steps``: the random walk as the pipeline runs it now (``power='steps'``: sparse
  ``T`` built from the pairs, 2^8 sparse steps in float64), from the map file to the label
  PNG (CPU time: the timed part is one thread, so CPU seconds are its time on one core); the
  boundary is made from the ground-truth outlines (blurred, at stride 4), so the labels mean
  something;
* ``walk_steps_float32``: the same in float32 (``random_walk.STEPS_DTYPE``);
* ``walk_dense_steps``: the walk before (dense n x n affinity, converted to sparse, 2^8
  steps);
* ``walk_squaring``: the authors' 8 squarings of the dense ``T`` (``power='squaring'``).

A row is skipped at a size where its predicted time for one image exceeds ``--budget``
seconds, and stops taking images once it has spent the budget. ``walk_*`` rows also run on
a VOC-sized grid (94 x 125, the stride-4 grid of 500x375: a crop of the largest size's
maps and boundary), the measurement behind the walk's figures in configs/irn/README.md.
The labels of the sparse steps and of the squaring are compared where both ran.

Peak memory: the process's peak RSS while the row runs above its RSS when the row starts
(Linux ``/proc/self/clear_refs`` resets the peak), so imports and the loaded model are not
counted. The extrapolation: ``t(P) = t(P_max) (P / P_max)^a`` from the largest measured size,
times the number of images, divided by ``--cores`` processes of one thread each (the
stage-2 steps split images among processes; memory per process then adds up).

(Over 400 lines: the forked measurement, the rows and the fit and extrapolation of their
times make one report; the model and data set-up come from ``benchmark_vs_authors.py``.)
"""
import argparse
import ctypes
import json
import multiprocessing
import os
import os.path as osp
import platform
import re
import resource  # POSIX only, as the forked rows (multiprocessing's 'fork') already are
import shutil
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

import cv2
import mmcv
import numpy as np
import torch

from wsss_toolbox.datasets.synthetic_benchmark import generate_synthetic_benchmark
from wsss_toolbox.maps import map_path
from wsss_toolbox.maps.inference import infer_maps
from wsss_toolbox.methods.irn import random_walk as rw
from wsss_toolbox.methods.irn.inference import image_boundary, load_strided_maps
from wsss_toolbox.pseudo_labels import generate_pseudo_labels, label_path, load_label, save_label
from wsss_toolbox.utils import register_all_modules

# benchmark_vs_authors.py sits next to this script, which importlib or runpy may load by path
# without adding this folder to sys.path
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from benchmark_vs_authors import (  # noqa: E402
    TOOLBOX_GENERATOR,
    TOOLBOX_REFINERS,
    benchmark_samples,
    build_model,
)

DATASETS = dict(VOC=(10582, 500, 375), COCO=(82783, 640, 480))
VOC_SIZE = (375, 500)
VOC_GRID = (94, 125)  # its stride-4 grid: ceil(375 / 4) x ceil(500 / 4)
STRIDE = 4
#: the time the table, the exponent and the extrapolation use (:func:`per_image`)
CLOCK = 'cpu_per_image'
WALK = dict(beta=10.0, exp_times=8, radius=5, path='band')
ROWS = ('maps', 'crf', 'seeds', 'boundary', 'walk_steps', 'walk_steps_float32',
        'walk_dense_steps', 'walk_squaring')
WALK_ROWS = ('walk_steps', 'walk_steps_float32', 'walk_dense_steps', 'walk_squaring')
#: exponent assumed to predict a row's time at the next size before two sizes are measured
ASSUMED_EXPONENT = dict(walk_dense_steps=2.0, walk_squaring=3.0)
TITLES = dict(
    maps='map inference (tiny CAM, 4 scales x flip)',
    crf='threshold 0.3 + DenseCRF labels',
    seeds='IRN seeds (2 DenseCRFs)',
    boundary='IRN boundary map (tiny net, flip)',
    walk_steps="walk: sparse T, 2^8 steps, float64 (default)",
    walk_steps_float32='walk: sparse T, 2^8 steps, float32',
    walk_dense_steps='walk: dense A -> sparse, 2^8 steps (before)',
    walk_squaring="walk: dense squaring ('squaring', authors')")


# ----------------------------------------------------------------------------- memory
def _status_kb(field: str) -> Optional[int]:
    try:
        with open('/proc/self/status') as f:
            match = re.search(rf'^{field}:\s+(\d+) kB', f.read(), re.M)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def reset_peak_rss() -> int:
    """Reset the process's peak RSS to its current RSS (Linux); returns that RSS in kB (or
    ``ru_maxrss`` where the reset is unavailable: the peak then includes earlier work)."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return _status_kb('VmRSS') or 0


def peak_rss_kb() -> int:
    peak = _status_kb('VmHWM')
    if peak is None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak


def folder_bytes(folder: str) -> int:
    return sum(osp.getsize(osp.join(root, name)) for root, _, names in os.walk(folder)
               for name in names)


def in_child(function: Callable[[], dict], threads: int) -> dict:
    """``function()`` in a forked process of ``threads`` torch threads; its result with the
    peak RSS above the RSS at the start of the timed part (``function`` calls
    :func:`reset_peak_rss` itself, after its set-up, and returns ``start_kb``)."""
    context = multiprocessing.get_context('fork')
    receive, send = context.Pipe(duplex=False)

    def work():
        torch.set_num_threads(threads)
        try:
            result = function()
            result['peak_mb'] = (peak_rss_kb() - result.pop('start_kb')) / 1024
            send.send(result)
        except BaseException as error:  # noqa: B902 -- report any failure to the parent
            send.send(dict(error=f'{type(error).__name__}: {error}'))

    process = context.Process(target=work)
    process.start()
    result = receive.recv()
    process.join()
    if 'error' in result:
        raise RuntimeError(f'benchmark row failed in its process: {result["error"]}')
    return result


def limit_heap_caching() -> None:
    """Make glibc return large freed blocks to the system at once (a fixed mmap threshold
    of 1 MiB), so that a row's peak RSS is not hidden by heap that an earlier row left
    resident. No-op elsewhere."""
    try:
        libc = ctypes.CDLL('libc.so.6')
        libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def timed_images(items: Sequence, run_one: Callable, budget: float) -> dict:
    """Run ``run_one`` on items until ``budget`` seconds are spent (at least one). The first
    item runs once before, untimed and before the peak RSS is reset: the first call's
    one-off costs (libraries' pages, thread pools, the model's first forward) are the
    process's, not the image's."""
    run_one(items[0])
    start_kb = reset_peak_rss()
    start, cpu_start = time.perf_counter(), time.process_time()
    done = 0
    for item in items:
        run_one(item)
        done += 1
        if time.perf_counter() - start > budget:
            break
    return dict(seconds=time.perf_counter() - start, cpu_seconds=time.process_time() - cpu_start,
                images=done, start_kb=start_kb)


def per_image(result: dict) -> dict:
    """Add ``seconds_per_image`` (wall) and ``cpu_per_image`` (the process's CPU time: on
    a shared machine it counts the row's own work, not the waits for a core)."""
    result['seconds_per_image'] = result['seconds'] / result['images']
    result['cpu_per_image'] = result['cpu_seconds'] / result['images']
    return result


# ----------------------------------------------------------------------------- data
def prepare_size(work_dir: str, size: int, num_images: int, seed: int) -> List[dict]:
    """Samples of the synthetic benchmark at ``size`` (generated once into the work dir)."""
    root = osp.join(work_dir, f'data_{size}_{num_images}')
    if not osp.isdir(osp.join(root, 'JPEGImages')):
        generate_synthetic_benchmark(root, num_train=num_images, num_val=0, image_size=size,
                                     seed=seed)
    return benchmark_samples(root, num_images)


def outline_boundary(seg_map_path: str, grid: tuple) -> torch.Tensor:
    """A plausible (h, w) boundary map: the ground truth's class outlines, blurred, read at
    the stride-4 grid, with a little noise."""
    gt = load_label(seg_map_path).astype(np.int32)
    edge = np.zeros(gt.shape, np.float32)
    edge[:-1] += gt[:-1] != gt[1:]
    edge[:, :-1] += gt[:, :-1] != gt[:, 1:]
    edge = cv2.GaussianBlur(np.minimum(edge, 1), (0, 0), 2.0)
    edge = cv2.resize(edge, (grid[1], grid[0]), interpolation=cv2.INTER_AREA)
    edge = edge / max(float(edge.max()), 1e-6)
    noise = np.random.default_rng(0).random(edge.shape) * 0.05
    return torch.from_numpy(np.clip(edge + noise, 0, 1).astype(np.float32))


def walk_inputs(samples: Sequence[dict], map_dir: str, crop: Optional[tuple]) -> list:
    """(img_id, strided maps, classes, boundary, label size) per sample; ``crop``: cut the
    grid (and the label) to this grid size."""
    items = []
    for sample in samples:
        record = load_strided_maps(map_dir, sample, STRIDE)
        strided = torch.from_numpy(record['strided_maps'])
        boundary = outline_boundary(sample['seg_map_path'], strided.shape[-2:])
        size = record['maps'].shape[1:]
        if crop is not None:
            strided, boundary = strided[:, :crop[0], :crop[1]], boundary[:crop[0], :crop[1]]
            if strided.shape[-2] < crop[0] or strided.shape[-1] < crop[1]:
                raise ValueError(f'the grid {tuple(strided.shape[-2:])} is smaller than the '
                                 f'crop {crop}: run a size of at least 500')
            size = VOC_SIZE
        items.append((sample['img_id'], strided.contiguous(), record['classes'],
                      boundary.contiguous(), size))
    return items


def dense_steps_maps(strided: torch.Tensor, boundary: torch.Tensor) -> torch.Tensor:
    """The walk with ``power='steps'`` before the sparse build: the dense n x n affinity and
    transition, converted to sparse CSR inside :func:`walk`."""
    num_classes, height, width = strided.shape
    transition = rw.transition_matrix(rw.dense_affinity(boundary, WALK['radius'],
                                                        WALK['path']), WALK['beta'])
    scores = (strided * (1 - boundary)).reshape(num_classes, -1)
    return rw.walk(scores, transition, WALK['exp_times'], 'steps').reshape(strided.shape)


# ----------------------------------------------------------------------------- rows
def run_row(row: str, samples: List[dict], folders: dict, args, budget: float,
            crop: Optional[tuple] = None) -> dict:
    """One row at one size, in this (forked) process."""
    out_dir = folders[row]
    if row not in ('maps', 'boundary'):  # the images the maps row reached
        samples = [s for s in samples if osp.isfile(map_path(folders['maps'], s['img_id']))]
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    if row == 'maps':
        model = build_model(args.config, None, args.seed,
                            num_classes=len(samples[0]['gt_label']))
        chunks = [[sample] for sample in samples]
        result = timed_images(chunks, lambda chunk: infer_maps(
            model, chunk, out_dir, args.scales, True, 'mean', aggregation='feature_grid',
            stride=STRIDE, overwrite=True, progress=False), budget)
    elif row in ('crf', 'seeds'):
        generator = TOOLBOX_GENERATOR if row == 'crf' else dict(type='IRNSeedLabelGenerator')
        refiners = TOOLBOX_REFINERS if row == 'crf' else []
        result = timed_images([[sample] for sample in samples], lambda chunk:
                              generate_pseudo_labels(chunk, folders['maps'], out_dir,
                                                     generator, refiners, nproc=1,
                                                     progress=False), budget)
    elif row == 'boundary':
        model = build_model(args.irn_config, None, args.seed)
        images = [mmcv.imread(s['img_path'], channel_order='rgb') for s in samples]
        result = timed_images(images, lambda image: image_boundary(model, image), budget)
    else:
        power = dict(walk_steps='steps', walk_steps_float32='steps',
                     walk_squaring='squaring').get(row)
        if row == 'walk_steps_float32':
            rw.STEPS_DTYPE = torch.float32  # this forked process only
        items = walk_inputs(samples, folders['maps'], crop)

        def run_one(item):
            img_id, strided, classes, boundary, size = item
            if power is None:
                walked = dense_steps_maps(strided, boundary)
            else:
                walked = rw.random_walk_maps(strided, boundary, power=power, **WALK)
            label = rw.walk_to_label(walked, classes, size, STRIDE, 0.25)
            save_label(label_path(out_dir, img_id), label)

        result = timed_images(items, run_one, budget)
    result['bytes'] = folder_bytes(out_dir)
    if row == 'boundary':
        result['bytes'] = 0
    result['bytes_per_image'] = result['bytes'] / max(result['images'], 1)
    return result


def label_disagreement(dir_a: str, dir_b: str) -> Optional[float]:
    """Fraction of pixels whose labels differ over the PNGs both folders hold."""
    names = sorted(set(os.listdir(dir_a)) & set(os.listdir(dir_b)))
    names = [name for name in names if name.endswith('.png')]
    if not names:
        return None
    differ = total = 0
    for name in names:
        a, b = load_label(osp.join(dir_a, name)), load_label(osp.join(dir_b, name))
        differ += int((a != b).sum())
        total += a.size
    return differ / total


def fit_exponent(pixels: Sequence[float], seconds: Sequence[float]) -> Optional[float]:
    """Least-squares slope of log(seconds) on log(pixels)."""
    if len(pixels) < 2:
        return None
    x, y = np.log(np.asarray(pixels, float)), np.log(np.asarray(seconds, float))
    return float(np.polyfit(x, y, 1)[0])


def predicted_seconds(row: str, measured: Dict[int, dict], pixels: int) -> Optional[float]:
    """Time for one image of ``pixels`` from the row's measured sizes (None: none yet)."""
    if not measured:
        return None
    sizes = sorted(measured)
    exponent = fit_exponent([s * s for s in sizes],
                            [measured[s][CLOCK] for s in sizes])
    if exponent is None:
        exponent = ASSUMED_EXPONENT.get(row, 1.0)
    largest = sizes[-1]
    return measured[largest][CLOCK] * (pixels / largest ** 2) ** exponent


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--sizes', type=int, nargs='+', default=[128, 256, 512])
    parser.add_argument('--num-images', type=int, default=8, help='images per size')
    parser.add_argument('--rows', nargs='+', choices=ROWS, default=list(ROWS))
    parser.add_argument('--budget', type=float, default=60.0,
                        help='seconds per row and size (a row predicted to need more for '
                        'one image is skipped)')
    parser.add_argument('--no-voc-grid', action='store_true',
                        help='skip the walk rows on the VOC-sized 94x125 grid')
    parser.add_argument('--cores', type=int, default=16,
                        help='processes of one thread the extrapolation assumes')
    parser.add_argument('--threads', type=int, default=1, help='torch threads per row')
    parser.add_argument('--config', default='configs/cam/cam_tiny_1xb16-8e_synthetic-128x128.py')
    parser.add_argument('--irn-config',
                        default='configs/irn/irn_tiny_1xb16-3e_synthetic-128x128.py')
    parser.add_argument('--scales', type=float, nargs='+', default=[1.0, 0.5, 1.5, 2.0])
    parser.add_argument('--work-dir', default='work_dirs/bench/scale')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='also write the results as JSON here')
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    register_all_modules(init_default_scope=False)
    torch.set_num_threads(args.threads)
    limit_heap_caching()
    rows = [row for row in ROWS if row in args.rows]
    needs_maps = any(row != 'boundary' for row in rows)
    if needs_maps and 'maps' not in rows:
        rows.insert(0, 'maps')  # the other rows read its map files
    measured = {row: {} for row in rows}
    skipped = {row: [] for row in rows}
    largest = max(args.sizes)
    voc = {}
    agreement = {}
    for size in sorted(args.sizes):
        samples = prepare_size(args.work_dir, size, args.num_images, args.seed)
        folders = {row: osp.join(args.work_dir, f'out_{size}', row) for row in ROWS}
        for row in rows:
            guess = predicted_seconds(row, measured[row], size * size)
            if row != 'maps' and guess is not None and guess > args.budget:
                skipped[row].append(size)
                print(f'{size}²: {row} skipped (predicted {guess:.0f} s per image)')
                continue
            result = in_child(lambda: run_row(row, samples, folders, args, args.budget),
                              args.threads)
            per_image(result)
            measured[row][size] = result
            print(f'{size}²: {row:<17} {result["cpu_per_image"]:8.3f} CPU s/image '
                  f'{result["seconds_per_image"]:8.3f} s/image '
                  f'{result["peak_mb"]:8.1f} MB peak  {result["bytes_per_image"] / 1024:8.1f}'
                  f' KiB/image ({result["images"]} images)', flush=True)
        if size in measured.get('walk_squaring', {}):
            for row in ('walk_steps', 'walk_steps_float32', 'walk_dense_steps'):
                if size in measured.get(row, {}):
                    agreement.setdefault(size, {})[row] = label_disagreement(
                        folders[row], folders['walk_squaring'])
        if size == largest and size < VOC_SIZE[1]:
            print(f'no VOC-sized walk: the largest size {size} is under {VOC_SIZE[1]}')
        elif size == largest and not args.no_voc_grid:
            voc_folders = {row: osp.join(args.work_dir, 'out_voc_grid', row) for row in ROWS}
            voc_folders['maps'] = folders['maps']
            for row in WALK_ROWS:
                if row not in rows:
                    continue
                guess = predicted_seconds(row, measured[row], VOC_GRID[0] * VOC_GRID[1]
                                          * STRIDE * STRIDE)
                if guess is not None and guess > args.budget:
                    print(f'VOC grid: {row} skipped (predicted {guess:.0f} s per image)')
                    continue
                voc[row] = in_child(lambda: run_row(row, samples, voc_folders, args,
                                                    args.budget, crop=VOC_GRID), args.threads)
                per_image(voc[row])
    return dict(args=vars(args), measured=measured, skipped=skipped, voc_grid=voc,
                agreement=agreement, machine=machine_line(args))


def machine_line(args) -> str:
    return (f'{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch '
            f'{torch.__version__}, {args.threads} torch thread(s), load average '
            f'{os.getloadavg()[0]:.1f}')


def format_table(result: dict) -> str:
    args = result['args']
    sizes = sorted(args['sizes'])
    cores = args['cores']
    lines = [f'stage 2 per image, {args["num_images"]} images per size (fewer where the '
             f'{args["budget"]:.0f} s budget ran out), one process, {result["machine"]}',
             'cpu: CPU seconds per image (a is fitted on them); wall: wall seconds; MB: peak '
             'RSS above the process before the row; KiB: bytes written per image', '']
    head = f'{"step":<46}' + ''.join(f'{f"{s}² cpu":>9}' for s in sizes) + \
        f'{"a":>6}' + ''.join(f'{f"{s}² wall":>10}' for s in sizes) + \
        ''.join(f'{f"{s}² MB":>9}' for s in sizes) + \
        ''.join(f'{f"{s}² KiB":>9}' for s in sizes)
    lines.append(head)
    extrapolation = []
    for row, by_size in result['measured'].items():
        def cell(size, key, scale=1.0, digits=3, width=9):
            if size not in by_size:
                return f'{"—":>{width}}'
            return f'{by_size[size][key] * scale:>{width}.{digits}f}'
        measured = sorted(by_size)
        exponent = fit_exponent([s * s for s in measured],
                                [by_size[s][CLOCK] for s in measured])
        lines.append(f'{TITLES[row]:<46}' + ''.join(cell(s, CLOCK) for s in sizes)
                     + (f'{exponent:>6.2f}' if exponent is not None else f'{"—":>6}')
                     + ''.join(cell(s, 'seconds_per_image', width=10) for s in sizes)
                     + ''.join(cell(s, 'peak_mb', digits=0) for s in sizes)
                     + ''.join(cell(s, 'bytes_per_image', 1 / 1024, 0) for s in sizes))
        if measured:
            largest = measured[-1]
            peak_exponent = fit_exponent([s * s for s in measured],
                                         [max(by_size[s]['peak_mb'], 1.0) for s in measured])
            time_exponent = exponent if exponent is not None else ASSUMED_EXPONENT.get(row, 1.0)
            entry = [TITLES[row]]
            for name, (count, width, height) in DATASETS.items():
                ratio = width * height / largest ** 2
                seconds = by_size[largest][CLOCK] * ratio ** time_exponent
                memory = max(by_size[largest]['peak_mb'], 1.0) * ratio ** (peak_exponent or 1.0)
                disk = by_size[largest]['bytes_per_image'] * ratio * count / 1e9
                entry.append((seconds, count * seconds / cores / 3600, memory, disk))
            extrapolation.append(entry)
    lines += ['', f'extrapolated (CPU t ∝ pixels^a from the largest size; hours on {cores} '
              'processes of one thread; MB per process; GB on disk = bytes per image ∝ pixels)',
              f'{"step":<46}{"VOC s/img":>10}{"VOC h":>9}{"VOC MB":>8}{"VOC GB":>8}'
              f'{"COCO s/img":>11}{"COCO h":>9}{"COCO MB":>8}{"COCO GB":>8}']
    for title, (vs, vh, vm, vd), (cs, ch, cm, cd) in extrapolation:
        lines.append(f'{title:<46}{vs:>10.3f}{vh:>9.2f}{vm:>8.0f}{vd:>8.2f}'
                     f'{cs:>11.3f}{ch:>9.2f}{cm:>8.0f}{cd:>8.2f}')
    if result['voc_grid']:
        lines += ['', f'walk measured on the VOC-sized grid {VOC_GRID[0]}x{VOC_GRID[1]} '
                  f'(crop of the {max(sizes)}² maps; map file -> label PNG)']
        for row, entry in result['voc_grid'].items():
            lines.append(f'{TITLES[row]:<46}{entry["cpu_per_image"]:>9.3f} CPU s/image'
                         f'{entry["seconds_per_image"]:>9.3f} s/image'
                         f'{entry["peak_mb"]:>9.1f} MB peak ({entry["images"]} images)')
    for size, fractions in result['agreement'].items():
        for row, fraction in fractions.items():
            if fraction is not None:
                lines.append(f'labels differing from the squaring\'s at {size}², '
                             f'{TITLES[row]}: {100 * fraction:.4f} % of the pixels')
    for row, sizes_skipped in result['skipped'].items():
        if sizes_skipped:
            lines.append(f'{TITLES[row]}: skipped at {", ".join(f"{s}²" for s in sizes_skipped)}'
                         f' (predicted over the budget)')
    return '\n'.join(lines)


def main(argv=None) -> None:
    args = parse_args(argv)
    start = time.perf_counter()
    result = run(args)
    result['wall_seconds'] = time.perf_counter() - start
    print()
    print(format_table(result))
    print(f'\nwall time {result["wall_seconds"]:.0f} s')
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)) or '.', exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2, default=float)


if __name__ == '__main__':
    main()
