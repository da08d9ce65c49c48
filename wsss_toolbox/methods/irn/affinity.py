"""Pixel pairs, their affinity labels, and affinities from a boundary map (IRN, Ahn et al.
CVPR 2019, Sec. 3; formulas are written out instead of equation numbers).

Everything works on the grid of the boundary map, i.e. at stride 4 of the image. A pair is a
pixel ``p`` and ``p + o`` for an offset ``o`` of :func:`pair_offsets` (half a disc of
``radius``: every unordered pair once). The affinity of a pair is

    a(p, p + o) = 1 - max_{k in path(o)} B(p + k)                 (IRN's affinity)

so a boundary anywhere between two pixels separates them. The path of an offset
(:func:`path_points`) is, by default (``path='band'``), every grid cell of the pair's bounding
box closer than one grid step to the line through both pixels, after jiwoon-ahn/irn
``misc/indexing.py`` L32-46 (a 4-connected band; test_irn_authors_rules.py
``test_band_paths_against_the_authors_rule``); ``path='line'`` is the thinner rounded
straight line (one cell per step), which a diagonal pair can cross a one-cell boundary
through.

Labels of a pair from the seed labels: positive when both pixels carry the same label (split
into background and foreground positives), negative when they carry different labels,
ignored when either pixel is ignored (255) or outside the grid. Which pixels are sources of
training pairs (``pair_sources``): ``'cropped'`` (default) leaves out the bottom ``r - 1``
rows and the left and right ``r - 1`` columns, so every partner lies inside the grid, after
jiwoon-ahn/irn ``misc/indexing.py`` L58-88 (``PathIndex.get_path_indices``); ``'all'`` takes
every pixel whose partner is inside the grid (2.4x the pairs on a 32x32 grid, radius 10).
"""
import warnings
from functools import lru_cache
from typing import Dict, List, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from wsss_toolbox.utils import check_choice

IGNORE_INDEX = 255

#: rules for the grid cells of a pair's path (module docstring)
PATH_RULES = ('band', 'line')
#: which pixels are sources of training pairs (module docstring)
PAIR_SOURCES = ('cropped', 'all')
#: which pixel of each stride x stride cell a seed label is read from (:func:`strided_seeds`)
SEED_SAMPLINGS = ('pil_nearest', 'top_left')


def check_radius(radius: int) -> int:
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 2:
        raise ValueError(f'radius must be an integer >= 2, got {radius!r}')
    return radius


@lru_cache(maxsize=None)
def pair_offsets(radius: int) -> Tuple[Tuple[int, int], ...]:
    """Offsets ``(dy, dx)`` of the pairs within ``radius`` (``dy² + dx² < radius²``, after
    jiwoon-ahn/irn ``misc/indexing.py`` L22-30, test_irn_units.py
    ``test_pair_offsets_radius_and_half_disc``), one of each ``o`` / ``-o``: ``dy > 0``, or
    ``dy == 0`` and ``dx > 0``."""
    check_radius(radius)
    offsets = [(0, dx) for dx in range(1, radius)]
    offsets += [(dy, dx) for dy in range(1, radius) for dx in range(-radius + 1, radius)
                if dy * dy + dx * dx < radius * radius]
    return tuple(offsets)


def band_path_points(offset: Tuple[int, int]) -> List[Tuple[int, int]]:
    """Cells ``(y, x)`` of the bounding box of ``(0, 0)`` and ``offset`` whose distance to
    the line through both is below one grid step: ``(dy x - dx y)² < dy² + dx²`` (exact in
    integers), ordered by ``|y| + |x|``."""
    dy, dx = offset
    length_sq = dy * dy + dx * dx
    if length_sq == 0:
        return [(0, 0)]
    cells = [(y, x) for y in range(min(0, dy), max(0, dy) + 1)
             for x in range(min(0, dx), max(0, dx) + 1)
             if (dy * x - dx * y) ** 2 < length_sq]
    return sorted(cells, key=lambda cell: (abs(cell[0]) + abs(cell[1]), cell))


def line_path_points(offset: Tuple[int, int]) -> List[Tuple[int, int]]:
    """Grid points of the straight line from ``(0, 0)`` to ``offset``, both included (one per
    step along the longer axis, rounded half away from zero)."""
    dy, dx = offset
    steps = max(abs(dy), abs(dx))
    points = []
    for t in range(steps + 1):
        y = np.sign(dy) * np.floor(abs(dy) * t / steps + 0.5) if steps else 0
        x = np.sign(dx) * np.floor(abs(dx) * t / steps + 0.5) if steps else 0
        point = (int(y), int(x))
        if point not in points:
            points.append(point)
    return points


def path_points(offset: Tuple[int, int], path: str = 'band') -> List[Tuple[int, int]]:
    """The grid cells of the path of ``offset`` (both ends included) under the ``path`` rule:
    ``'band'`` (:func:`band_path_points`, the authors') or ``'line'``
    (:func:`line_path_points`)."""
    check_choice('path', path, PATH_RULES)
    return band_path_points(offset) if path == 'band' else line_path_points(offset)


@lru_cache(maxsize=None)
def path_table(radius: int, path: str = 'band'
               ) -> Tuple[Tuple[Tuple[int, int], ...], Tuple[Tuple[np.ndarray, np.ndarray], ...],
                          np.ndarray]:
    """``(points, groups, order)`` of the paths of :func:`pair_offsets`: the distinct grid
    points of all paths; per path length ``L`` the offsets' slots (G,) and an int64 (G, L)
    table of their paths' points as indices into ``points``; and the slot order of the
    concatenated groups' inverse (``order[slot]`` = position of ``slot`` in that
    concatenation). Grouping by length (as the authors do, ``misc/indexing.py`` L48-53) lets
    one gather + max serve every path of a length."""
    paths = [path_points(offset, path) for offset in pair_offsets(radius)]
    points = sorted({point for cells in paths for point in cells})
    lookup = {point: index for index, point in enumerate(points)}
    groups, concatenated = [], []
    for length in sorted({len(cells) for cells in paths}):
        slots = [slot for slot, cells in enumerate(paths) if len(cells) == length]
        index = np.array([[lookup[point] for point in paths[slot]] for slot in slots],
                         dtype=np.int64)
        groups.append((np.array(slots, dtype=np.int64), index))
        concatenated += slots
    order = np.empty(len(paths), dtype=np.int64)
    order[np.array(concatenated)] = np.arange(len(paths))
    return tuple(points), tuple(groups), order


def shift_stack(grid: Tensor, offsets, fill: float) -> Tensor:
    """``out[:, i, y, x] = grid[:, y + dy_i, x + dx_i]`` (``fill`` outside the grid) for a
    (N, H, W) grid and offsets ``(dy_i, dx_i)``: a (N, len(offsets), H, W) tensor."""
    height, width = grid.shape[-2:]
    reach = max(max(abs(dy), abs(dx)) for dy, dx in offsets)
    padded = F.pad(grid[:, None], (reach, reach, reach, reach), value=fill)[:, 0]
    return torch.stack([padded[:, reach + dy:reach + dy + height, reach + dx:reach + dx + width]
                        for dy, dx in offsets], dim=1)


def _index_groups(radius: int, path: str, device) -> List[Tuple[Tensor, Tensor]]:
    """:func:`path_table`'s groups as tensors on ``device``: per path length the slots (G,)
    and the (G, L) path cells (indices into the table's points)."""
    _, groups, _ = path_table(radius, path)
    return [(torch.as_tensor(slots, device=device), torch.as_tensor(index, device=device))
            for slots, index in groups]


def _group_max(shifted: Tensor, index: Tensor) -> Tensor:
    """(N, G, H, W) maxima over the (G, L) paths ``index`` of (N, points, H, W) ``shifted``,
    one path position at a time: never more than one (N, G, H, W) gather alive."""
    best = shifted.index_select(1, index[:, 0])  # index_select: 6x faster on a CPU than [:, i]
    for position in range(1, index.shape[1]):
        torch.maximum(best, shifted.index_select(1, index[:, position]), out=best)
    return best


def _path_max(boundary: Tensor, radius: int, path: str) -> Tensor:
    """(N, num_offsets, H, W): ``max_{k in path(o)} B(p + k)`` of an (N, H, W) boundary
    (1 outside the grid), without autograd."""
    points, _, _ = path_table(radius, path)
    shifted = shift_stack(boundary, points, fill=1.0)  # (N, num_points, H, W)
    num, _, height, width = shifted.shape
    maxima = boundary.new_empty(num, len(pair_offsets(radius)), height, width)
    for slots, index in _index_groups(radius, path, boundary.device):
        maxima[:, slots] = _group_max(shifted, index)
    return maxima


def _path_max_grad(boundary: Tensor, grad: Tensor, radius: int, path: str) -> Tensor:
    """The gradient of :func:`_path_max` at ``boundary`` for the output gradient ``grad``,
    recomputing the maxima. As ``torch.amax``'s backward, a maximum reached by several cells
    of a path gives each of them ``grad / count``; cells outside the grid take no part."""
    points, _, _ = path_table(radius, path)
    shifted = shift_stack(boundary, points, fill=1.0)
    grad_shifted = torch.zeros_like(shifted)
    for slots, index in _index_groups(radius, path, boundary.device):
        best = _group_max(shifted, index)
        hits = [shifted.index_select(1, cells) == best for cells in index.T]
        count = hits[0].to(torch.uint8 if len(hits) < 256 else torch.int32)
        for hit in hits[1:]:
            count += hit
        share = grad.index_select(1, slots) / count
        for position, hit in enumerate(hits):
            grad_shifted.index_add_(1, index[:, position], share * hit)
    # shift_stack's adjoint: every point's map back to its place in the padded grid
    height, width = boundary.shape[-2:]
    reach = max(max(abs(dy), abs(dx)) for dy, dx in points)
    grad_padded = boundary.new_zeros(boundary.shape[0], height + 2 * reach, width + 2 * reach)
    for point, (dy, dx) in enumerate(points):
        grad_padded[:, reach + dy:reach + dy + height,
                    reach + dx:reach + dx + width] += grad_shifted[:, point]
    return grad_padded[:, reach:reach + height, reach:reach + width]


class _PathMax(torch.autograd.Function):
    """:func:`_path_max` whose backward recomputes the maxima from the boundary, so autograd
    keeps only the (N, H, W) boundary: not the (N, sum of path lengths, H, W) gathered cells
    that ``amax`` over a gather keeps (2134 cells per pixel at radius 10, band paths; the
    authors' ``index_select`` + ``max_pool2d``, jiwoon-ahn/irn ``net/resnet50_irn.py``
    L162-175, keeps them too). ``tools/analysis/benchmark_irn_memory.py`` measures it."""

    @staticmethod
    def forward(ctx, boundary: Tensor, radius: int, path: str) -> Tensor:
        ctx.save_for_backward(boundary)
        ctx.radius, ctx.path = radius, path
        return _path_max(boundary, radius, path)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        boundary, = ctx.saved_tensors
        return _path_max_grad(boundary, grad.contiguous(), ctx.radius, ctx.path), None, None


def boundary_to_affinity(boundary: Tensor, radius: int, path: str = 'band') -> Tensor:
    """Affinities of every pixel with its :func:`pair_offsets` partners (the formula above).

    Args:
        boundary: (N, H, W) or (N, 1, H, W) boundary probabilities in [0, 1].
        radius: pair radius (grid pixels).
        path: the path rule, ``'band'`` (the authors') or ``'line'``.

    Returns:
        (N, num_offsets, H, W): ``a(p, p + o)``; 0 for a path leaving the grid (the boundary
        is 1 outside it, as the authors' walk pads its edge map with 1). The maxima are taken
        one path length at a time, and the backward recomputes them (:class:`_PathMax`):
        training keeps no per-path-cell tensor.
    """
    if boundary.dim() == 4:
        boundary = boundary[:, 0]
    check_choice('path', path, PATH_RULES)
    check_radius(radius)
    return 1 - _PathMax.apply(boundary, radius, path)


def source_mask(height: int, width: int, radius: int, pair_sources: str = 'cropped',
                device=None) -> Tensor:
    """(H, W) bool: the pixels that are sources of training pairs (module docstring). With
    ``'cropped'`` rows ``[0, H - r + 1)`` and columns ``[r - 1, W - r + 1)``, where
    ``r - 1`` is the authors' ``radius_floor = ceil(radius) - 1``."""
    check_choice('pair_sources', pair_sources, PAIR_SOURCES)
    mask = torch.ones(height, width, dtype=torch.bool, device=device)
    if pair_sources == 'cropped':
        margin = check_radius(radius) - 1
        mask[:] = False
        mask[:max(height - margin, 0), margin:max(width - margin, margin)] = True
    return mask


def affinity_labels(seeds: Tensor, radius: int,
                    pair_sources: str = 'cropped') -> Dict[str, Tensor]:
    """Labels of the pairs of (N, H, W) seed labels on the boundary grid (module docstring).

    Args:
        seeds: (N, H, W) seed labels at the grid (0 background, k + 1 class k, 255 ignore).
        radius: pair radius.
        pair_sources: ``'cropped'`` (the authors' training pairs) or ``'all'``.

    Returns:
        dict of float (N, num_offsets, H, W) masks indexed by the source pixel: ``bg_pos``
        (both pixels background), ``fg_pos`` (both the same foreground class), ``neg``
        (different labels); a pair whose pixel is ignored (255), whose partner is outside the
        grid, or whose source is not a source (``pair_sources``) is in none of them.
    """
    seeds = seeds.long()
    offsets = pair_offsets(radius)
    num, height, width = seeds.shape
    sources = source_mask(height, width, radius, pair_sources, seeds.device)
    if not sources.any():
        warnings.warn(f'affinity_labels: a {height}x{width} grid has no '
                      f'source pixel for pair_sources={pair_sources!r} at radius {radius} '
                      f'(it needs at least {2 * radius - 1} columns and {radius} rows), so '
                      "no pair is labelled; train on larger crops or use pair_sources='all'.")
    labelled = (seeds != IGNORE_INDEX) & sources
    background, foreground = labelled & (seeds == 0), labelled & (seeds > 0)
    reach = radius - 1
    padded = F.pad(seeds[:, None], (reach, reach, reach, reach), value=IGNORE_INDEX)[:, 0]
    labels = {kind: seeds.new_empty((num, len(offsets), height, width), dtype=torch.float)
              for kind in ('bg_pos', 'fg_pos', 'neg')}
    # one offset at a time: no (N, num_offsets, H, W) int64 stack of the partners
    for slot, (dy, dx) in enumerate(offsets):
        partner = padded[:, reach + dy:reach + dy + height, reach + dx:reach + dx + width]
        same = partner == seeds  # equal to a labelled source's label: not ignored either
        labels['bg_pos'][:, slot] = background & same
        labels['fg_pos'][:, slot] = foreground & same
        labels['neg'][:, slot] = labelled & ~same & (partner != IGNORE_INDEX)
    return labels


def affinity_loss(affinity: Tensor, labels: Dict[str, Tensor],
                  eps: float = 1e-5) -> Dict[str, Tensor]:
    """IRN's affinity loss with the weights of jiwoon-ahn/irn ``step/train_irn.py`` L58-61 and L69
    (test_irn_units.py ``test_affinity_loss_against_a_hand_computation``): the mean of
    ``-log(a)`` over background positives and over foreground positives (averaged), and the
    mean of ``-log(1 - a)`` over negatives; the total is ``(positive + negative) / 2``.

    Returns ``dict(loss_pos, loss_neg)`` whose sum is the total.
    """
    pos_term = -torch.log(affinity + eps)
    neg_term = -torch.log(1 + eps - affinity)

    def mean_over(mask, term):
        return (mask * term).sum() / (mask.sum() + eps)

    positive = mean_over(labels['bg_pos'], pos_term) / 2 + mean_over(labels['fg_pos'],
                                                                     pos_term) / 2
    negative = mean_over(labels['neg'], neg_term)
    return dict(loss_pos=positive / 2, loss_neg=negative / 2)


def strided_seeds(seeds: Tensor, stride: int, size: Tuple[int, int],
                  sampling: str = 'pil_nearest') -> Tensor:
    """Seed labels (N, H, W) on the (N, *size) grid of the boundary map: one pixel of each
    ``stride x stride`` cell, padded with 255 / cropped to ``size``.

    ``sampling='pil_nearest'`` (default) reads pixel ``stride * i + stride // 2`` (4i + 2):
    what PIL's nearest rescale by ``1 / stride`` reads from an image whose size is a multiple
    of the stride, as the authors rescale their 512x512 label crops (jiwoon-ahn/irn
    ``voc12/dataloader.py`` L269, ``misc/imutils.py`` L8-22; test_irn_authors_rules.py
    ``test_strided_seeds_read_the_pixel_pil_nearest_reads``). On other sizes PIL's grid has
    ``round(H / stride)`` cells and does not match the ``ceil(H / stride)`` feature grid
    (the authors' crops never have such sizes); here the rule stays ``4i + 2``, and a cell
    whose pixel lies past the seed is ignored (255). ``'top_left'`` reads pixel ``4i``
    (the cell's top-left pixel), 1.5 pixels off the cell centre ``4i + 1.5``.
    """
    check_choice('seed sampling', sampling, SEED_SAMPLINGS)
    start = stride // 2 if sampling == 'pil_nearest' else 0
    sampled = seeds[:, start::stride, start::stride]
    height, width = size
    sampled = sampled[:, :height, :width]
    pad_h, pad_w = height - sampled.shape[1], width - sampled.shape[2]
    if pad_h or pad_w:
        sampled = F.pad(sampled, (0, pad_w, 0, pad_h), value=IGNORE_INDEX)
    return sampled
