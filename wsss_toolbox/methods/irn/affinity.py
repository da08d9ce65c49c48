"""Pixel pairs, their affinity labels, and affinities from a boundary map (IRN, Ahn et al.
CVPR 2019, Sec. 3; the IRN paper is not in shared/papers, so formulas are written out
instead of equation numbers).

Everything works on the grid of the boundary map, i.e. at stride 4 of the image. A pair is a
pixel ``p`` and ``p + o`` for an offset ``o`` of :func:`pair_offsets` (half a disc of
``radius``: every unordered pair once). The path of an offset is the straight line of grid
points from ``(0, 0)`` to ``o`` (both ends included), and the affinity of a pair is

    a(p, p + o) = 1 - max_{k in path(o)} B(p + k)                 (IRN's affinity)

so a boundary anywhere between two pixels separates them. Labels of a pair from the seed
labels: positive when both pixels carry the same label (split into background and
foreground positives), negative when they carry different labels, ignored when either pixel is
ignored (255) or outside the image.
"""
from functools import lru_cache
from typing import Dict, List, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

IGNORE_INDEX = 255


@lru_cache(maxsize=None)
def pair_offsets(radius: int) -> Tuple[Tuple[int, int], ...]:
    """Offsets ``(dy, dx)`` of the pairs within ``radius`` (distance strictly below it, as
    the authors' code), one of each ``o`` / ``-o``: ``dy > 0``, or ``dy == 0`` and ``dx > 0``.
    """
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 2:
        raise ValueError(f'radius must be an integer >= 2, got {radius!r}')
    offsets = [(0, dx) for dx in range(1, radius)]
    offsets += [(dy, dx) for dy in range(1, radius) for dx in range(-radius + 1, radius)
                if dy * dy + dx * dx < radius * radius]
    return tuple(offsets)


def path_points(offset: Tuple[int, int]) -> List[Tuple[int, int]]:
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


@lru_cache(maxsize=None)
def path_table(radius: int) -> Tuple[Tuple[Tuple[int, int], ...], np.ndarray]:
    """``(points, index)``: the distinct grid points of all paths of :func:`pair_offsets`
    and an int64 (num_offsets, max_path_length) table of each path's points as indices into
    ``points`` (short paths repeat their last point)."""
    paths = [path_points(offset) for offset in pair_offsets(radius)]
    points = sorted({point for path in paths for point in path})
    lookup = {point: index for index, point in enumerate(points)}
    length = max(len(path) for path in paths)
    index = np.array([[lookup[path[min(i, len(path) - 1)]] for i in range(length)]
                      for path in paths], dtype=np.int64)
    return tuple(points), index


def shift_stack(grid: Tensor, offsets, fill: float) -> Tensor:
    """``out[:, i, y, x] = grid[:, y + dy_i, x + dx_i]`` (``fill`` outside the grid) for a
    (N, H, W) grid and offsets ``(dy_i, dx_i)``: a (N, len(offsets), H, W) tensor."""
    height, width = grid.shape[-2:]
    reach = max(max(abs(dy), abs(dx)) for dy, dx in offsets)
    padded = F.pad(grid[:, None], (reach, reach, reach, reach), value=fill)[:, 0]
    return torch.stack([padded[:, reach + dy:reach + dy + height, reach + dx:reach + dx + width]
                        for dy, dx in offsets], dim=1)


def boundary_to_affinity(boundary: Tensor, radius: int) -> Tensor:
    """Affinities of every pixel with its :func:`pair_offsets` partners (the formula above).

    Args:
        boundary: (N, H, W) or (N, 1, H, W) boundary probabilities in [0, 1].
        radius: pair radius (grid pixels).

    Returns:
        (N, num_offsets, H, W): ``a(p, p + o)``; 0 for a partner outside the grid (the
        boundary is 1 outside it).
    """
    if boundary.dim() == 4:
        boundary = boundary[:, 0]
    points, index = path_table(radius)
    shifted = shift_stack(boundary, points, fill=1.0)
    index = torch.as_tensor(index, device=boundary.device)
    path_max = shifted[:, index[:, 0]]
    for step in range(1, index.shape[1]):
        path_max = torch.maximum(path_max, shifted[:, index[:, step]])
    return 1 - path_max


def affinity_labels(seeds: Tensor, radius: int) -> Dict[str, Tensor]:
    """Labels of the pairs of (N, H, W) seed labels on the boundary grid (module docstring).

    Returns:
        dict of float (N, num_offsets, H, W) masks: ``bg_pos`` (both pixels background),
        ``fg_pos`` (both the same foreground class), ``neg`` (different labels); a pair whose
        pixel is ignored (255) or outside the grid is in none of them.
    """
    seeds = seeds.long()
    offsets = pair_offsets(radius)
    partner = shift_stack(seeds, offsets, fill=IGNORE_INDEX)
    anchor = seeds[:, None].expand_as(partner)
    valid = (anchor != IGNORE_INDEX) & (partner != IGNORE_INDEX)
    same = anchor == partner
    return dict(bg_pos=(valid & same & (anchor == 0)).float(),
                fg_pos=(valid & same & (anchor > 0)).float(),
                neg=(valid & ~same).float())


def affinity_loss(affinity: Tensor, labels: Dict[str, Tensor],
                  eps: float = 1e-5) -> Dict[str, Tensor]:
    """IRN's affinity loss (weighted as the authors' code): the mean of
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


def strided_seeds(seeds: Tensor, stride: int, size: Tuple[int, int]) -> Tensor:
    """Seed labels (N, H, W) at ``stride``: every ``stride``-th pixel (nearest, as the
    authors' code rescales its labels), padded with 255 / cropped to ``size``."""
    sampled = seeds[:, ::stride, ::stride]
    height, width = size
    sampled = sampled[:, :height, :width]
    pad_h, pad_w = height - sampled.shape[1], width - sampled.shape[2]
    if pad_h or pad_w:
        sampled = F.pad(sampled, (0, pad_w, 0, pad_h), value=IGNORE_INDEX)
    return sampled
