"""IRN's transition matrix built sparse, straight from the pixel pairs (no n x n matrix).

Row ``p`` of ``T = D^-1 A^beta`` (:mod:`.random_walk`) has one entry per grid pixel of the
disc of ``radius`` around ``p``: ``p`` itself (``A[p, p] = 1``), ``p + o`` (the affinity of
the pair ``(p, p + o)``) and ``p - o`` (the affinity of ``(p - o, p)``) for every half-disc
offset ``o`` of :func:`.affinity.pair_offsets`, partners outside the grid left out. The
affinities are :func:`.affinity.boundary_to_affinity`'s, so the pair offsets and the
``path`` rule are those of the dense matrix; the row sums ``D`` include the diagonal, as the
authors' column sums of ``A^beta`` do (jiwoon-ahn/irn ``misc/indexing.py`` L132-136, ``A``
symmetric). Time and memory grow with ``n x (2 |offsets| + 1)`` (69 entries a row at radius
5) instead of ``n²``; tests/methods/irn/test_sparse_walk.py compares the matrix with the dense
one and the walked maps and labels with the dense squaring.
"""
import warnings
from functools import lru_cache
from typing import Tuple

import torch
from torch import Tensor

from .affinity import boundary_to_affinity, pair_offsets


@lru_cache(maxsize=None)
def disc_offsets(radius: int) -> Tuple[Tuple[Tuple[int, int], ...], Tuple[int, ...]]:
    """``(offsets, sources)``: every offset ``f`` of the full disc (``-o``, ``(0, 0)``,
    ``o``) in ``(dy, dx)`` order, so that a row's in-grid columns come out ascending, and
    for each where its affinity comes from: ``-1`` the diagonal, ``s >= 0`` the pair
    ``o_s`` of :func:`.affinity.pair_offsets` (``f = o_s``), ``-2 - s`` the same pair seen
    from its other end (``f = -o_s``)."""
    entries = [((0, 0), -1)]
    for slot, (dy, dx) in enumerate(pair_offsets(radius)):
        entries += [((dy, dx), slot), ((-dy, -dx), -2 - slot)]
    entries.sort()
    return tuple(offset for offset, _ in entries), tuple(source for _, source in entries)


def disc_weights(boundary: Tensor, radius: int = 5, beta: float = 10.0,
                 path: str = 'band') -> Tuple[Tensor, Tensor]:
    """``(weights, valid)``, both (h, w, F) for the F offsets of :func:`disc_offsets`:
    ``weights[p, f] = A[p, p + f]^beta`` (0 where ``p + f`` leaves the grid) and whether
    ``p + f`` is inside the grid. Pixel-major, so that each pixel's row is contiguous."""
    height, width = boundary.shape
    offsets, sources = disc_offsets(radius)
    # (O, h, w), pairs (p, p + o) indexed by p; clamp as the dense transition_matrix does
    pairs = boundary_to_affinity(boundary[None], radius, path)[0].clamp(min=0).pow(beta)
    weights = boundary.new_zeros(height, width, len(offsets))
    valid = torch.zeros(height, width, len(offsets), dtype=torch.bool, device=boundary.device)
    for slot, ((dy, dx), source) in enumerate(zip(offsets, sources)):
        # the pixels p whose partner p + f is inside the grid: a rectangle
        y0, y1 = max(0, -dy), min(height, height - dy)
        x0, x1 = max(0, -dx), min(width, width - dx)
        if y1 <= y0 or x1 <= x0:
            continue
        valid[y0:y1, x0:x1, slot] = True
        if source == -1:
            weights[y0:y1, x0:x1, slot] = 1.0
        elif source >= 0:
            weights[y0:y1, x0:x1, slot] = pairs[source, y0:y1, x0:x1]
        else:  # f = -o: the pair (p - o, p) = (p + f, p), stored at p + f
            weights[y0:y1, x0:x1, slot] = pairs[-2 - source, y0 + dy:y1 + dy, x0 + dx:x1 + dx]
    return weights, valid


def sparse_transition(boundary: Tensor, beta: float = 10.0, radius: int = 5,
                      path: str = 'band') -> Tensor:
    """Row-stochastic ``T = D^-1 A^beta`` of an (h, w) boundary map as an (n, n) sparse CSR
    tensor (n = h w, row-major pixels; module docstring) in the boundary's dtype. Equal to
    ``transition_matrix(dense_affinity(boundary, radius, path), beta)`` up to the order of
    the row sums' float additions."""
    if boundary.dim() != 2:
        raise ValueError(f'sparse_transition needs one (h, w) boundary map, got shape '
                         f'{tuple(boundary.shape)}')
    height, width = boundary.shape
    num = height * width
    offsets, _ = disc_offsets(radius)
    weights, valid = disc_weights(boundary, radius, beta, path)
    weights, valid = weights.view(num, -1), valid.view(num, -1)
    weights /= weights.sum(dim=1, keepdim=True).clamp(min=1e-12)
    # int32 indices: less memory traffic per step than int64 (enough below 2^31 entries)
    index_dtype = torch.int32 if num * len(offsets) < 2 ** 31 else torch.int64
    # each row's offsets in disc order: its in-grid columns ascend
    shift = torch.tensor([dy * width + dx for dy, dx in offsets], dtype=index_dtype,
                         device=boundary.device)
    columns = (torch.arange(num, dtype=index_dtype, device=boundary.device)[:, None]
               + shift)[valid]
    rows = torch.zeros(num + 1, dtype=index_dtype, device=boundary.device)
    rows[1:] = valid.sum(dim=1).cumsum(0)
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter('ignore', UserWarning)
        return torch.sparse_csr_tensor(rows, columns, weights[valid], (num, num))


def sparse_steps(maps: Tensor, transition: Tensor, steps: int) -> Tensor:
    """``T^steps`` applied to (K, n) ``maps`` by ``steps`` products of the sparse ``T`` with
    the (n, K) scores; returns (K, n)."""
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter('ignore', UserWarning)
        scores = maps.T.contiguous()
        for _ in range(steps):
            scores = transition @ scores
    return scores.T
