"""Random walk on the affinities of a boundary map (IRN, Ahn et al. CVPR 2019, Sec. 4), on
the stride-4 grid of the strided maps.

* dense affinity matrix ``A`` (n x n, n = h w): ``A[p, q] = a(p, q)`` (:mod:`.affinity`,
  band paths by default) for every pair of grid pixels closer than ``radius`` (5 in the
  authors' code), symmetric, ``A[p, p] = 1``, 0 elsewhere. The authors pad the edge map and
  crop the dense matrix back to the image (jiwoon-ahn/irn ``misc/indexing.py`` L141-167,
  ``propagate_to_edge``), which keeps every in-image pair: no pixel is left out as the
  training pairs' ``'cropped'`` sources are;
* transition matrix ``T = D^-1 A^beta`` (``beta`` = 10), row-stochastic;
* ``2^t`` steps (t = 8), applied to the maps multiplied by ``1 - B``:
  ``vec(M*) = T^(2^t) vec(M o (1 - B))``. The authors' code normalises the columns and
  multiplies from the right, ``x T_col^(2^t)`` (``misc/indexing.py`` L132-139); as ``A`` is
  symmetric ``T_col`` is ``T`` transposed, so both give one walk
  (test_irn_authors_rules.py ``test_walk_against_the_authors_propagate_to_edge`` transcribes
  ``propagate_to_edge`` and compares). ``power`` picks how (:data:`POWERS`): ``'steps'``
  (default) builds ``T`` sparse from the pairs (:mod:`.sparse_walk`: ~69 entries a row at
  radius 5, time and memory linear in the pixels) and applies it 2^t times;
  ``'squaring'`` builds the dense n x n ``A`` and squares ``T`` t times, as the authors
  (``misc/indexing.py`` L132-139; n² memory, n³ time: for a GPU). Both give the same walk
  up to float rounding (tests/methods/irn/test_sparse_walk.py);
* labels: the walked maps upsampled to the image size, divided by their maximum over all
  classes and pixels, a constant background score (0.25), argmax.
"""
import warnings
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .affinity import boundary_to_affinity, pair_offsets
from .sparse_walk import sparse_steps, sparse_transition

#: how ``T^(2^t)`` is applied (module docstring); the first is the default
POWERS = ('steps', 'squaring')
#: dtype of the sparse steps: 2^8 float32 products drift by up to ~1e-4 of the peak from
#: the exact walk (the float32 squaring: ~4e-5), which flipped a near-tie pixel's label in
#: 8 synthetic 128x128 images with an earlier summation order; float64 stays within 1e-7,
#: at the same time within the noise on a CPU (docs/benchmarks.md, "Stage 2 at scale")
STEPS_DTYPE = torch.float64


def check_power(power: str) -> str:
    if power not in POWERS:
        raise ValueError(f"power must be 'steps' or 'squaring', got {power!r}")
    return power


def dense_affinity(boundary: Tensor, radius: int = 5, path: str = 'band') -> Tensor:
    """The symmetric (n, n) affinity matrix of one (h, w) boundary map (module docstring;
    ``path``: the path rule, :mod:`.affinity`)."""
    if boundary.dim() != 2:
        raise ValueError(f'dense_affinity needs one (h, w) boundary map, got shape '
                         f'{tuple(boundary.shape)}')
    height, width = boundary.shape
    pairs = boundary_to_affinity(boundary[None], radius, path)[0]  # (O, h, w)
    num = height * width
    index = torch.arange(num, device=boundary.device).view(height, width)
    affinity = torch.zeros(num, num, dtype=boundary.dtype, device=boundary.device)
    for slot, (dy, dx) in enumerate(pair_offsets(radius)):
        y0, y1 = 0, height - dy
        x0, x1 = max(0, -dx), min(width, width - dx)
        if y1 <= y0 or x1 <= x0:
            continue
        source = index[y0:y1, x0:x1].reshape(-1)
        target = index[y0 + dy:y1 + dy, x0 + dx:x1 + dx].reshape(-1)
        values = pairs[slot, y0:y1, x0:x1].reshape(-1)
        affinity[source, target] = values
        affinity[target, source] = values
    affinity.fill_diagonal_(1.0)
    return affinity


def transition_matrix(affinity: Tensor, beta: float = 10.0) -> Tensor:
    """Row-stochastic ``T = D^-1 A^beta`` of a non-negative (n, n) affinity."""
    powered = affinity.clamp(min=0).pow(beta)
    return powered / powered.sum(dim=1, keepdim=True).clamp(min=1e-12)


def _transition_in_place(affinity: Tensor, beta: float) -> Tensor:
    """:func:`transition_matrix` overwriting ``affinity`` (one n x n matrix alive, not 3)."""
    powered = affinity.clamp_(min=0).pow_(beta)
    return powered.div_(powered.sum(dim=1, keepdim=True).clamp_(min=1e-12))


def walk(maps: Tensor, transition: Tensor, exp_times: int = 8,
         power: str = 'steps') -> Tensor:
    """``T^(2^exp_times)`` applied to (K, n) ``maps`` (each pixel's score becomes the
    walk-weighted mean of its neighbours' scores); ``transition`` dense or sparse CSR.

    ``power='steps'`` applies ``T`` 2^t times to the maps as a sparse matrix (each row has
    the ~pi r^2 pairs of one pixel); ``'squaring'`` forms ``T^(2^t)`` by t squarings of the
    dense matrix (as the authors' ``to_transition_matrix``): equal up to float rounding
    (test_irn_units.py ``test_squaring_and_steps_give_the_same_walk``).
    """
    sparse = transition.layout == torch.sparse_csr
    if check_power(power) == 'squaring':
        matrix = transition.to_dense() if sparse else transition
        for _ in range(exp_times):
            matrix = matrix @ matrix
        return maps @ matrix.T
    if not sparse:
        with warnings.catch_warnings():  # "sparse CSR support is in beta"
            warnings.simplefilter('ignore', UserWarning)
            transition = transition.to_sparse_csr()
    return sparse_steps(maps, transition, 2 ** exp_times)


def random_walk_maps(strided_maps: Tensor, boundary: Tensor, beta: float = 10.0,
                     exp_times: int = 8, radius: int = 5, power: str = 'steps',
                     path: str = 'band') -> Tensor:
    """Walk (K, h, w) strided maps over the affinities of the (h, w) boundary map: IRN's
    walk of ``maps * (1 - B)``; returns (K, h, w) of the maps' dtype. ``power='steps'``
    never builds an n x n matrix and walks in float64 (:data:`STEPS_DTYPE`);
    ``'squaring'`` builds the dense one in the maps' dtype (module docstring)."""
    check_power(power)
    if strided_maps.shape[-2:] != boundary.shape[-2:]:
        raise ValueError(f'strided maps {tuple(strided_maps.shape[-2:])} and boundary map '
                         f'{tuple(boundary.shape[-2:])} must share the grid')
    num_classes, height, width = strided_maps.shape
    if num_classes == 0:
        return strided_maps.clone()
    scores = (strided_maps * (1 - boundary)).reshape(num_classes, -1)
    if power == 'steps':
        transition = sparse_transition(boundary.to(STEPS_DTYPE), beta, radius, path)
        walked = walk(scores.to(STEPS_DTYPE), transition, exp_times, power)
        return walked.to(strided_maps.dtype).reshape(num_classes, height, width)
    transition = _transition_in_place(dense_affinity(boundary, radius, path), beta)
    return walk(scores, transition, exp_times, power).reshape(num_classes, height, width)


def walk_to_label(walked: Tensor, classes: Sequence[int], image_size: Tuple[int, int],
                  stride: int = 4, bg_threshold: float = 0.25) -> np.ndarray:
    """Label of the image from walked (K, h, w) maps: bilinear upsampling by ``stride``,
    cropped to ``image_size``, divided by the global maximum, background score
    ``bg_threshold``, argmax (background wins ties). uint8 (H, W)."""
    height, width = image_size
    if walked.shape[0] == 0:
        return np.zeros((height, width), np.uint8)
    grid_h, grid_w = walked.shape[-2:]
    upsampled = F.interpolate(walked[None], size=(grid_h * stride, grid_w * stride),
                              mode='bilinear', align_corners=False)[0, :, :height, :width]
    upsampled = upsampled / upsampled.max().clamp(min=1e-5)
    background = torch.full((1, height, width), bg_threshold, dtype=upsampled.dtype,
                            device=upsampled.device)
    channel = torch.cat([background, upsampled]).argmax(dim=0).cpu().numpy()
    lookup = np.concatenate([[0], np.asarray(classes, np.int64) + 1]).astype(np.uint8)
    return lookup[channel]


def random_walk_label(strided_maps: Tensor, boundary: Tensor, classes: Sequence[int],
                      image_size: Tuple[int, int], stride: int = 4, beta: float = 10.0,
                      exp_times: int = 8, radius: int = 5, bg_threshold: float = 0.25,
                      power: str = 'steps', walked: Optional[Tensor] = None,
                      path: str = 'band') -> np.ndarray:
    """Pseudo label (uint8 (H, W)) of one image: :func:`random_walk_maps` then
    :func:`walk_to_label`."""
    if walked is None:
        walked = random_walk_maps(strided_maps, boundary, beta, exp_times, radius, power,
                                  path)
    return walk_to_label(walked, classes, image_size, stride, bg_threshold)
