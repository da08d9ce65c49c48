"""Peak memory and time of IRN's affinity loss (forward + backward), side by side in one run:

* ``before``: the toolbox's previous implementation (per path length one gather of every path
  cell and ``amax``; autograd keeps the gathers), kept as the reference of
  ``tests/methods/irn/test_affinity_memory.py`` and loaded from there;
* ``authors``: the mechanism of jiwoon-ahn/irn, re-implemented here from reading it: flat
  path indices precomputed for the crop (``misc/indexing.py`` L58-88,
  ``PathIndex.get_path_indices``), one ``index_select`` + ``max_pool2d`` per path length
  (``net/resnet50_irn.py`` L162-175, ``to_affinity``), the loss of ``step/train_irn.py``
  L58-61 on the labels of ``voc12/dataloader.py`` L80-106 (``GetAffinityLabelFromIndices``;
  their data loader builds them, here they are built per image into the batch);
* ``toolbox``: ``boundary_to_affinity`` + ``affinity_labels`` + ``affinity_loss`` as they are.

Input: random boundary logits (N, 1, grid, grid) with ``requires_grad`` -- what the boundary
head gives at stride 4 for 512x512 crops with the default grid 128 -- and random seed labels;
everything from the logits to the loss and its backward is measured (labels included). Each
(variant, batch size) runs in two processes, each after one warm-up pass: the peak resident
memory of one pass over the memory before it (``/proc/self/clear_refs`` resets the peak;
glibc's ``MALLOC_MMAP_THRESHOLD_`` is fixed so that freed tensors leave the process), and the
median time of ``--repeats`` passes (with glibc's default allocator). The per-image memory is
the slope over the batch sizes; the authors' precomputed indices are a fixed cost, shown
apart. ``--device cuda`` measures ``torch.cuda.max_memory_allocated`` instead (not run yet).
The last columns are the differences of each variant's loss and logit gradient from
``before`` on one image (0 and float rounding: every row computes the same loss).

    OMP_NUM_THREADS=1 .venv/bin/python tools/analysis/benchmark_irn_memory.py \\
        [--batch-sizes 1 2 4] [--grid 128] [--radius 10] [--path band] \\
        [--pair-sources cropped] [--repeats 3] [--device cpu] [--out FILE.json]
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from wsss_toolbox.methods.irn.affinity import (
    IGNORE_INDEX,
    affinity_labels,
    affinity_loss,
    boundary_to_affinity,
    pair_offsets,
    path_table,
)

VARIANTS = ('before', 'authors', 'toolbox')
REFERENCE = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..', 'tests', 'methods', 'irn',
                     'test_affinity_memory.py')
MIB = 2 ** 20


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Peak memory and time of IRN's affinity loss: the toolbox before and now "
        "and the authors' mechanism", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 2, 4])
    parser.add_argument('--grid', type=int, default=128,
                        help='side of the boundary grid (512 crops at stride 4: 128)')
    parser.add_argument('--radius', type=int, default=10)
    parser.add_argument('--path', default='band', choices=['band', 'line'])
    parser.add_argument('--pair-sources', default='cropped', choices=['cropped', 'all'])
    parser.add_argument('--repeats', type=int, default=3, help='timed passes per process')
    parser.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument('--extrapolate-to', type=int, default=32,
                        help='batch size the per-image figures are extrapolated to')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    parser.add_argument('--out', help='also write the rows as JSON here')
    parser.add_argument('--child', choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument('--batch', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--measure', choices=['memory', 'time'], help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# ------------------------------------------------------------------ the authors' mechanism
class AuthorsPathIndex:
    """Flat indices into the (H * W) boundary map, precomputed for one grid size, after
    jiwoon-ahn/irn ``misc/indexing.py`` L58-88: sources are the pixels of rows ``[0, H - rf)``
    and columns ``[rf, W - rf)`` (``rf = radius - 1``); per path length an int64
    (G, L, sources) table of every path cell of every source, and the (offsets, sources)
    destinations. The paths are the toolbox's (:func:`path_table`; ``'band'`` is the authors'
    rule, test_irn_authors_rules.py), grouped by length in the same order as theirs."""

    def __init__(self, radius: int, size, path: str = 'band') -> None:
        height, width = (int(side) for side in size)
        floor = radius - 1
        rows, cols = height - floor, width - 2 * floor
        if rows < 1 or cols < 1:
            raise ValueError(f'AuthorsPathIndex: a {height}x{width} grid has no source pixel '
                             f'at radius {radius}; use --grid >= {2 * radius - 1}')
        grid = torch.arange(height * width).view(height, width)
        self.src = grid[:rows, floor:floor + cols].reshape(-1)
        points, groups, _ = path_table(radius, path)
        shift = torch.tensor([dy * width + dx for dy, dx in points])
        offsets = pair_offsets(radius)
        self.paths, destinations = [], []
        for slots, index in groups:
            self.paths.append(self.src + shift[torch.as_tensor(index)][..., None])
            destinations += [offsets[slot][0] * width + offsets[slot][1] for slot in slots]
        self.dst = self.src + torch.tensor(destinations)[:, None]

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in [self.src, self.dst, *self.paths])

    def to(self, device) -> 'AuthorsPathIndex':
        self.src, self.dst = self.src.to(device), self.dst.to(device)
        self.paths = [table.to(device) for table in self.paths]
        return self


def authors_affinity(edge: torch.Tensor, tables: AuthorsPathIndex) -> torch.Tensor:
    """(N, offsets, sources) affinities, as ``to_affinity`` (``net/resnet50_irn.py``
    L162-175): per path length gather every cell with ``index_select`` and take the path's
    maximum with a (L, 1) ``max_pool2d``."""
    edge = edge.reshape(edge.shape[0], -1)
    affinities = []
    for table in tables.paths:
        cells = torch.index_select(edge, 1, table.reshape(-1)).view(edge.shape[0], *table.shape)
        affinities.append(1 - F.max_pool2d(cells, (table.shape[1], 1)).squeeze(2))
    return torch.cat(affinities, dim=1)


def authors_labels(seeds: torch.Tensor, tables: AuthorsPathIndex) -> Dict[str, torch.Tensor]:
    """The three float (N, offsets, sources) label batches, built per image from uint8 seeds
    as ``GetAffinityLabelFromIndices`` (``voc12/dataloader.py`` L80-106; its ``< 21`` is
    "not ignored" for VOC's labels, ``!= 255`` here)."""
    shape = (seeds.shape[0], *tables.dst.shape)
    labels = {kind: seeds.new_empty(shape, dtype=torch.float) for kind in
              ('bg_pos', 'fg_pos', 'neg')}
    for image, seed in enumerate(seeds.to(torch.uint8).reshape(seeds.shape[0], -1)):
        src, dst = seed[tables.src][None], seed[tables.dst]
        valid = (src != IGNORE_INDEX) & (dst != IGNORE_INDEX)
        same = src == dst
        labels['bg_pos'][image] = same & valid & (src == 0)
        labels['fg_pos'][image] = same & valid & (src > 0)
        labels['neg'][image] = ~same & valid
    return labels


def authors_loss(affinity: torch.Tensor, labels: Dict[str, torch.Tensor]) -> torch.Tensor:
    """``step/train_irn.py`` L58-61 and the affinity half of L69."""
    pos = -torch.log(affinity + 1e-5)
    neg = -torch.log(1. + 1e-5 - affinity)
    bg_pos = torch.sum(labels['bg_pos'] * pos) / (torch.sum(labels['bg_pos']) + 1e-5)
    fg_pos = torch.sum(labels['fg_pos'] * pos) / (torch.sum(labels['fg_pos']) + 1e-5)
    negative = torch.sum(labels['neg'] * neg) / (torch.sum(labels['neg']) + 1e-5)
    return (bg_pos / 2 + fg_pos / 2 + negative) / 2


# ------------------------------------------------------------------ the three variants
def load_reference():
    """The test file's copy of the previous implementation."""
    spec = importlib.util.spec_from_file_location('affinity_memory_reference', REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_step(variant: str, radius: int, path: str, pair_sources: str,
              tables: Optional[AuthorsPathIndex] = None) -> Callable:
    """``step(logits, seeds) -> total affinity loss`` of one variant."""
    if variant == 'authors':
        if tables is None:
            raise ValueError("make_step: the 'authors' variant needs its AuthorsPathIndex")
        return lambda logits, seeds: authors_loss(
            authors_affinity(torch.sigmoid(logits), tables), authors_labels(seeds, tables))
    if variant == 'before':
        reference = load_reference()
        to_affinity, labels_of = (reference.reference_boundary_to_affinity,
                                  reference.reference_affinity_labels)
    else:
        to_affinity, labels_of = boundary_to_affinity, affinity_labels

    def step(logits, seeds):
        affinity = to_affinity(torch.sigmoid(logits), radius, path)
        return sum(affinity_loss(affinity, labels_of(seeds, radius, pair_sources)).values())
    return step


def make_inputs(batch: int, grid: int, device='cpu'):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(batch, 1, grid, grid, generator=gen) * 2
    seeds = torch.tensor([0, 0, 1, 2, IGNORE_INDEX])[
        torch.randint(0, 5, (batch, grid, grid), generator=gen)]
    return logits.to(device).requires_grad_(True), seeds.to(device)


# ------------------------------------------------------------------ one measurement (child)
def _proc_kib(key: str) -> int:
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith(key):
                return int(line.split()[1])
    raise RuntimeError(f'/proc/self/status has no {key}')


def _reset_peak() -> None:
    try:
        with open('/proc/self/clear_refs', 'w') as clear:
            clear.write('5')  # resets VmHWM, the peak resident set (Linux >= 4.0)
    except OSError as err:
        raise SystemExit(f'benchmark_irn_memory: cannot reset the peak memory through '
                         f'/proc/self/clear_refs ({err}); run it on Linux, or with '
                         '--device cuda') from err


def measure(variant: str, batch: int, what: str, args: argparse.Namespace) -> dict:
    """``what='memory'``: the peak of one pass over the memory before it; ``'time'``: the
    median seconds of ``--repeats`` passes. Both after one warm-up pass."""
    device = torch.device(args.device)
    logits, seeds = make_inputs(batch, args.grid, device)
    tables = None
    if variant == 'authors':
        tables = AuthorsPathIndex(args.radius, (args.grid, args.grid), args.path).to(device)
    step = make_step(variant, args.radius, args.path, args.pair_sources, tables)

    def run() -> Tuple[float, float]:
        logits.grad = None
        start = time.perf_counter()
        loss = step(logits, seeds)
        loss.backward()
        if device.type == 'cuda':
            torch.cuda.synchronize()
        return time.perf_counter() - start, loss.item()

    run()  # warm-up: lazy initialisations, the path tables' caches
    if what == 'time':
        times = [run()[0] for _ in range(args.repeats)]
        return dict(variant=variant, batch=batch, seconds=statistics.median(times))
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        seconds, loss = run()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        _reset_peak()
        base = _proc_kib('VmRSS')
        seconds, loss = run()
        peak = (_proc_kib('VmHWM') - base) * 1024
    return dict(variant=variant, batch=batch, peak_mib=peak / MIB,
                fixed_mib=(tables.nbytes if tables else 0) / MIB, loss=loss)


# ------------------------------------------------------------------ the run (parent)
def child_command(variant: str, batch: int, what: str,
                  args: argparse.Namespace) -> List[str]:
    command = [sys.executable, osp.abspath(__file__), '--child', variant, '--batch', str(batch),
               '--measure', what,
               '--grid', str(args.grid), '--radius', str(args.radius), '--path', args.path,
               '--pair-sources', args.pair_sources, '--repeats', str(args.repeats),
               '--device', args.device]
    return command


def run_child(variant: str, batch: int, args: argparse.Namespace) -> dict:
    """The memory and the time of one variant at one batch size, each in its own process."""
    row = {}
    for what in ('memory', 'time'):
        env = dict(os.environ)
        if what == 'memory':
            # a fixed mmap threshold: large tensors are mapped and unmapped, so the resident
            # memory follows the live tensors (glibc's dynamic threshold keeps freed ones in
            # the heap); not for the timing, where each mapping costs page faults
            env['MALLOC_MMAP_THRESHOLD_'] = '65536'
        row.update(_run(child_command(variant, batch, what, args), env, variant, batch))
    return row


def _run(command: List[str], env: dict, variant: str, batch: int) -> dict:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f'benchmark_irn_memory: the {variant} run at batch {batch} failed:\n'
                         f'{done.stderr[-3000:]}')
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare_outputs(args: argparse.Namespace) -> Dict[str, dict]:
    """Loss and logit-gradient differences of each variant from ``before`` on one image."""
    logits, seeds = make_inputs(1, args.grid, args.device)
    tables = AuthorsPathIndex(args.radius, (args.grid, args.grid), args.path).to(args.device)
    results = {}
    for variant in args.variants:
        logits.grad = None
        loss = make_step(variant, args.radius, args.path, args.pair_sources, tables)(logits,
                                                                                     seeds)
        loss.backward()
        results[variant] = (loss.item(), logits.grad.clone())
    if 'before' not in results:
        return {}
    loss0, grad0 = results['before']
    return {variant: dict(loss_diff=abs(loss - loss0),
                          grad_max_diff=(grad - grad0).abs().max().item(),
                          grad_max=grad0.abs().max().item())
            for variant, (loss, grad) in results.items()}


def summarise(rows: List[dict], args: argparse.Namespace) -> List[dict]:
    summary = []
    for variant in args.variants:
        own = sorted((row for row in rows if row['variant'] == variant),
                     key=lambda row: row['batch'])
        batches = np.array([row['batch'] for row in own], dtype=float)
        peaks = np.array([row['peak_mib'] for row in own])
        slope, intercept = (np.polyfit(batches, peaks, 1) if len(own) > 1
                            else (peaks[0] / batches[0], 0.0))
        summary.append(dict(
            variant=variant, peaks={int(b): round(p, 1) for b, p in zip(batches, peaks)},
            mib_per_image=slope, intercept_mib=intercept, fixed_mib=own[0]['fixed_mib'],
            extrapolated_mib=intercept + slope * args.extrapolate_to + own[0]['fixed_mib'],
            seconds_per_image=sum(row['seconds'] for row in own) / batches.sum()))
    return summary


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', torch.get_num_threads())))
    if args.child:
        print(json.dumps(measure(args.child, args.batch, args.measure, args)))
        return
    if args.pair_sources == 'all' and 'authors' in args.variants:
        print("note: the authors' mechanism has only the cropped sources; its row keeps them")
    rows = [run_child(variant, batch, args)
            for batch in args.batch_sizes for variant in args.variants]
    summary = summarise(rows, args)
    diffs = compare_outputs(args)
    grid, batches = args.grid, ' / '.join(str(b) for b in args.batch_sizes)
    print(f'IRN affinity loss, forward + backward: {grid}x{grid} grid, radius {args.radius}, '
          f'path {args.path!r}, pair_sources {args.pair_sources!r}, device {args.device}')
    print(f'| variant | peak MiB at batch {batches} | MiB per image | fixed MiB | '
          f'batch {args.extrapolate_to} (extrapolated) MiB | s per image | '
          '|loss - before| | max |grad - before| |')
    print('|---|---|---|---|---|---|---|---|')
    for row in summary:
        peaks = ' / '.join(f'{p:.0f}' for p in row['peaks'].values())
        diff = diffs.get(row['variant'], {})
        print(f"| {row['variant']} | {peaks} | {row['mib_per_image']:.0f} | "
              f"{row['fixed_mib']:.0f} | {row['extrapolated_mib']:.0f} | "
              f"{row['seconds_per_image']:.3f} | {diff.get('loss_diff', float('nan')):.1e} | "
              f"{diff.get('grad_max_diff', float('nan')):.1e} |")
    if diffs:
        print(f"(largest |gradient| of the batch: {diffs['before']['grad_max']:.1e})")
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as out:
            json.dump(dict(args=vars(args), rows=rows, summary=summary, diffs=diffs), out,
                      indent=2)


if __name__ == '__main__':
    main()
