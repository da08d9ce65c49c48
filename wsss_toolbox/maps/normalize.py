"""Normalisation of localization maps: the one definition, for torch tensors and numpy arrays.

Every map is normalised over its two spatial dimensions (the last two); leading dimensions
(classes, batch) are independent maps.

* ``mode='max'`` -- divide by the peak (OAA Eq. 2 after a ReLU, CAM/IRN practice)::

      out = maps / d,   d = max(peak, eps) if peak > 0 else 1

  A non-negative map whose peak is at least ``eps`` reaches exactly 1; an all-zero map stays
  zero; a map whose peak lies in (0, eps) is divided by ``eps`` (a noise floor: it is not blown
  up to 1). ``eps=0`` divides every positive peak.
* ``mode='minmax'`` -- stretch to [0, 1]::

      out = (maps - low) / d,   d = max(span, eps) if span > 0,   span = peak - low

  A constant map (``span == 0``) becomes all zeros.

``eps_rule`` says how ``eps`` enters the divisor: ``'floor'`` (default) as above, ``d =
max(peak, eps)``; ``'add'``: ``d = peak + eps`` (resp. ``span + eps``), the rule of IRN's and
RPNet's ``make_cam`` (``cam / (max + 1e-5)``) and of SeeNet's notebook (``/ (max + 1e-8)``):
no map reaches exactly 1, and an all-zero map stays zero (with ``eps = 0`` a zero divisor
becomes 1).

Numpy inputs come back as float32 (float64 stays float64); tensors keep their dtype and device.
"""
from typing import Union

import numpy as np
import torch

NORMALIZE_MODES = ('max', 'minmax')
#: how ``eps`` enters the divisor (module docstring)
EPS_RULES = ('floor', 'add')

ArrayOrTensor = Union[np.ndarray, torch.Tensor]


def normalize_maps(maps: ArrayOrTensor, mode: str = 'max', eps: float = 1e-5,
                   eps_rule: str = 'floor') -> ArrayOrTensor:
    """Normalise every (H, W) map of ``maps`` (shape (..., H, W)) to [0, 1].

    Args:
        maps: a torch tensor or a numpy array (or anything ``np.asarray`` takes) of shape
            (..., H, W), e.g. (K, H, W) class maps or (B, C, h, w) head maps. ``'max'``
            expects non-negative maps (apply a ReLU / clamp first).
        mode: ``'max'`` (divide by the peak) or ``'minmax'`` (see the module docstring).
        eps: lower bound of the divisor for peaks (``'max'``) or spans (``'minmax'``) that are
            positive; ``0`` divides by any positive peak/span.
        eps_rule: ``'floor'`` (``max(peak, eps)``) or ``'add'`` (``peak + eps``; module
            docstring).

    Returns:
        The normalised maps, same shape (and type: tensor or array).
    """
    if mode not in NORMALIZE_MODES:
        raise ValueError(f'mode must be one of {NORMALIZE_MODES}, got {mode!r}')
    if eps < 0:
        raise ValueError(f'eps must be >= 0, got {eps}')
    if eps_rule not in EPS_RULES:
        raise ValueError(f'eps_rule must be one of {EPS_RULES}, got {eps_rule!r}')
    if isinstance(maps, torch.Tensor):
        return _normalize_tensor(maps, mode, eps, eps_rule == 'add')
    return _normalize_array(maps, mode, eps, eps_rule == 'add')


def _check_ndim(ndim: int, shape: tuple) -> None:
    if ndim < 2:
        raise ValueError(f'normalize_maps expects maps of shape (..., H, W), got shape {shape}')


def _tensor_divisor(extent: torch.Tensor, eps: float, add_eps: bool) -> torch.Tensor:
    """The divisor of a peak or span (module docstring)."""
    if add_eps:
        shifted = extent + eps
        return torch.where(shifted > 0, shifted, torch.ones_like(shifted))
    return torch.where(extent > 0, extent.clamp(min=eps), torch.ones_like(extent))


def _normalize_tensor(maps: torch.Tensor, mode: str, eps: float,
                      add_eps: bool = False) -> torch.Tensor:
    _check_ndim(maps.dim(), tuple(maps.shape))
    if maps.numel() == 0:
        return maps.clone()
    peak = maps.amax(dim=(-2, -1), keepdim=True)
    if mode == 'max':
        return maps / _tensor_divisor(peak, eps, add_eps)
    low = maps.amin(dim=(-2, -1), keepdim=True)
    span = peak - low
    divisor = _tensor_divisor(span, eps, add_eps)
    return torch.where(span > 0, (maps - low) / divisor, torch.zeros_like(maps))


def _array_divisor(extent: np.ndarray, eps, add_eps: bool) -> np.ndarray:
    """The divisor of a peak or span (module docstring), in ``extent``'s dtype."""
    if add_eps:
        shifted = extent + eps
        return np.where(shifted > 0, shifted, 1).astype(extent.dtype)
    return np.where(extent > 0, np.maximum(extent, eps), 1).astype(extent.dtype)


def _normalize_array(maps, mode: str, eps: float, add_eps: bool = False) -> np.ndarray:
    maps = np.asarray(maps)
    _check_ndim(maps.ndim, maps.shape)
    if maps.dtype != np.float64:
        maps = maps.astype(np.float32, copy=False)
    if maps.size == 0:
        return maps.copy()
    peak = maps.max(axis=(-2, -1), keepdims=True)
    eps = maps.dtype.type(eps)
    if mode == 'max':
        return maps / _array_divisor(peak, eps, add_eps)
    low = maps.min(axis=(-2, -1), keepdims=True)
    span = peak - low
    divisor = _array_divisor(span, eps, add_eps)
    return np.where(span > 0, (maps - low) / divisor, 0).astype(maps.dtype, copy=False)
