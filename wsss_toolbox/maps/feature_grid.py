"""Multi-scale aggregation of localization maps on the feature grid (IRN's ``make_cam``).

``aggregation='feature_grid'`` of :func:`~wsss_toolbox.maps.inference.infer_maps` follows
jiwoon-ahn/irn, ``step/make_cam.py`` L32-52 with ``net/resnet50_cam.py`` L65-68 and
``misc/imutils.py`` L173-179 (liuweide01/RPNet-Weakly-Supervised-Segmentation repeats these
lines in ``step/make_cam.py`` L35-55 and ``net/resnet50_cam.py`` L275-277):

1. per scale, the image and its mirror go through the network; each gives ``ReLU`` maps on
   the feature grid (the model's ``localization_maps``, not resized);
2. the mirror's maps are flipped back *on the feature grid* and added to the image's;
3. that sum is resized once (bilinear, ``align_corners=False``) to the strided size
   ``ceil(H / stride)`` for the ``strided_maps``, and once to the strided-up size
   ``S * ceil(H / S)`` (``S`` the network's output stride, 16 in IRN) and cropped to the
   image's top-left ``H x W`` for the full-size ``maps``;
4. both are summed over the scales, and each class map is divided by its own maximum
   ``+ 1e-5`` -- the strided maps by the strided maximum, the full-size maps by theirs.

A test transcribes these lines on a stub model (``tests/maps/test_feature_grid.py``). The
image-grid aggregation (the toolbox's default) resizes every view to the image first and
derives the strided maps from the full-size fused map instead.

Padding: our batches are padded to the data preprocessor's ``pad_size_divisor``; the maps are
cropped to the ``ceil(h / S)`` cells that cover the view before the flip, so a padded cell is
never mirrored into the image. ``S`` is not configured: it is the power of two
``2 ** ceil(log2(input size / feature size))`` of the largest ratio over the image's views,
which equals the output stride of a network whose maps have ``ceil(input / S)`` cells (every
stride-2 convolution or pooling with "same" padding) and at least 2 cells along that side.
"""
import math
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .io import strided_shape
from .normalize import normalize_maps

#: what the authors add to each class map's maximum before dividing by it (IRN make_cam.py L49, L52)
FEATURE_GRID_NORMALIZE_EPS = 1e-5


def output_stride(results: Sequence) -> int:
    """The network's output stride ``S`` from the views' feature maps (module docstring)."""
    stride = 1
    for result in results:
        pad_h, pad_w = result.metainfo['batch_input_shape'][:2]
        feat_h, feat_w = result.pred_feature_maps.shape[-2:]
        ratio = max(pad_h / feat_h, pad_w / feat_w)
        stride = max(stride, 2**max(0, math.ceil(math.log2(ratio) - 1e-9)))
    return stride


def selected_view_maps(result, maps: torch.Tensor,
                       keep: Optional[torch.Tensor]) -> torch.Tensor:
    """``maps`` of one view's result as contiguous float32, only the ``keep`` classes (None:
    all); an error when the model's class count differs from the data sample's label."""
    maps = maps.float().contiguous()  # a channels-last model's maps
    if 'gt_label' in result and len(result.gt_label) != maps.shape[0]:
        raise ValueError(
            f'the model predicts {maps.shape[0]} classes but the dataset has '
            f'{len(result.gt_label)}: check model.head.num_classes')
    return maps if keep is None else maps[keep]


def _view_maps(result, stride: int, keep: Optional[torch.Tensor]) -> torch.Tensor:
    """The (K, h, w) maps of one view on the cells that cover its image (padding cut off)."""
    maps = selected_view_maps(result, result.pred_feature_maps, keep)
    cells = strided_shape(*result.metainfo['img_shape'][:2], stride)
    return maps[:, :cells[0], :cells[1]]


def resize_maps(maps: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of (K, h, w) maps to ``size`` (K may be 0: an image without tags)."""
    if maps.shape[0] == 0:
        return maps.new_zeros((0, ) + tuple(size))
    return F.interpolate(maps[None], size=tuple(size), mode='bilinear', align_corners=False)[0]


def feature_grid_sums(results: Sequence, height: int, width: int, flip: bool,
                      stride: Optional[int] = None,
                      classes: Optional[np.ndarray] = None
                      ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Un-normalised full-size and strided sums of one image's views (module docstring).

    Args:
        results: the views' ``test_step`` outputs, carrying ``pred_feature_maps`` (C, h, w)
            and the metainfo ``batch_input_shape``, ``img_shape`` and ``flip``; with ``flip``
            in pairs (view, mirror) scale after scale.
        height, width: the image size.
        flip: whether every view is followed by its mirror.
        stride: the stride of the strided sums (IRN: 4); None: none.
        classes: the class indices kept (None: all).

    Returns:
        ``(maps (K, height, width), strided (K, ceil(height / stride), ...) or None)``.
    """
    missing = [result for result in results if 'pred_feature_maps' not in result]
    if missing:
        raise ValueError(
            "aggregation='feature_grid' needs the maps on the feature grid: the model's "
            "test_step must fill pred_feature_maps when a data sample's metainfo has "
            "pred_on_feature_grid=True (WSSSClassifier does); use aggregation='image_grid' "
            'for other models')
    per_scale = 2 if flip else 1
    if len(results) % per_scale:
        raise ValueError(f'{len(results)} views do not come in (view, mirror) pairs')
    net_stride = output_stride(results)
    up_size = tuple(net_stride * cells for cells in strided_shape(height, width, net_stride))
    keep = None if classes is None else torch.from_numpy(np.asarray(classes, dtype=np.int64))
    maps = strided = None
    for start in range(0, len(results), per_scale):
        views = results[start:start + per_scale]
        if [bool(view.metainfo.get('flip', False)) for view in views] != [False, True][:per_scale]:
            raise ValueError('feature-grid aggregation expects each view followed by its '
                             'mirror (metainfo flip False, True)')
        scale_sum = _view_maps(views[0], net_stride, keep)
        if flip:
            mirrored = _view_maps(views[1], net_stride, keep)
            if mirrored.shape != scale_sum.shape:
                raise ValueError(f'a view and its mirror give maps of sizes '
                                 f'{tuple(scale_sum.shape[-2:])} and '
                                 f'{tuple(mirrored.shape[-2:])}')
            scale_sum = scale_sum + mirrored.flip(-1)
        full = resize_maps(scale_sum, up_size)[:, :height, :width]
        maps = full if maps is None else maps + full
        if stride is not None:
            small = resize_maps(scale_sum, strided_shape(height, width, stride))
            strided = small if strided is None else strided + small
    return maps, strided


def normalize_by_max(maps: torch.Tensor) -> np.ndarray:
    """Each (h, w) map divided by its maximum + 1e-5, as float32 numpy (make_cam.py L49, L52:
    a map's peak becomes ``peak / (peak + 1e-5)``, an all-zero map stays 0)."""
    return normalize_maps(maps, 'max', eps=FEATURE_GRID_NORMALIZE_EPS,
                          eps_rule='add').cpu().numpy().astype(np.float32)
