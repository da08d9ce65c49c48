"""Tensor helpers shared by the attention heads, the classifier and the stage-1 hooks."""
import math
from typing import Sequence, Tuple, Union

import torch.nn.functional as F
from torch import Tensor

from wsss_toolbox.maps.normalize import normalize_maps


def normalized_attention(maps: Tensor, eps: float = 1e-5) -> Tensor:
    """OAA Eq. 2: ``A^c = ReLU(F^c) / max(F^c)``, per map over its two spatial dims.

    A ReLU followed by :func:`wsss_toolbox.maps.normalize.normalize_maps` (``mode='max'``),
    the one definition of map normalisation.

    Args:
        maps: class-aware maps ``F`` of shape (..., h, w), e.g. (B, C, h, w).
        eps: lower bound of the divisor. A map whose maximum is <= 0 has ReLU(F) = 0
            everywhere and therefore becomes all zeros (no division by a non-positive max).

    Returns:
        Tensor of the same shape with values in [0, 1]; each map with a maximum >= eps
        reaches exactly 1 at its peak.
    """
    return normalize_maps(F.relu(maps), mode='max', eps=eps)


def _pair(shape: Union[int, Sequence[int]]) -> Tuple[int, int]:
    if isinstance(shape, int):
        return shape, shape
    return int(shape[0]), int(shape[1])


def crop_valid_region(maps: Tensor, batch_input_shape: Sequence[int],
                      img_shape: Sequence[int]) -> Tensor:
    """Crop the part of feature-resolution maps that covers an image, dropping the
    bottom/right batch padding added by the data preprocessor.

    Args:
        maps: (..., h, w) maps computed on a padded batch of input size ``batch_input_shape``.
        batch_input_shape: (H_pad, W_pad) of the network input.
        img_shape: (H, W) of this image inside the padded input (top-left aligned).

    Returns:
        (..., ceil(h * H / H_pad), ceil(w * W / W_pad)) view of ``maps``.
    """
    pad_h, pad_w = _pair(batch_input_shape)
    img_h, img_w = _pair(img_shape)
    feat_h, feat_w = maps.shape[-2:]
    valid_h = min(feat_h, max(1, math.ceil(feat_h * img_h / pad_h)))
    valid_w = min(feat_w, max(1, math.ceil(feat_w * img_w / pad_w)))
    return maps[..., :valid_h, :valid_w]


def resize_maps_to_image(maps: Tensor, batch_input_shape: Sequence[int],
                         img_shape: Sequence[int], mode: str = 'bilinear') -> Tensor:
    """Resize feature-resolution maps of one padded batch item to its image size.

    The maps are first resized to the padded network-input size (so feature cells keep
    their exact position) and the padding is then cropped away, as mmseg does for
    segmentation logits.

    Args:
        maps: (C, h, w) or (B, C, h, w) maps.
        batch_input_shape: (H_pad, W_pad) of the padded network input.
        img_shape: (H, W) of the image inside the padded input.
        mode: interpolation mode of :func:`torch.nn.functional.interpolate`.

    Returns:
        Maps of shape (C, H, W) (or (B, C, H, W)).
    """
    pad_h, pad_w = _pair(batch_input_shape)
    img_h, img_w = _pair(img_shape)
    if img_h > pad_h or img_w > pad_w:
        raise ValueError(f'img_shape {(img_h, img_w)} is larger than the network input '
                         f'{(pad_h, pad_w)}; the data sample metainfo is inconsistent '
                         'with its inputs')
    squeeze = maps.dim() == 3
    batched = maps.unsqueeze(0) if squeeze else maps
    align = {} if mode in ('nearest', 'area') else dict(align_corners=False)
    if batched.shape[-2:] != (pad_h, pad_w):
        # contiguous: maps of a channels-last network resize 2x faster in the plain layout
        batched = F.interpolate(batched.float().contiguous(), size=(pad_h, pad_w), mode=mode,
                                **align)
    batched = batched[..., :img_h, :img_w]
    return batched[0] if squeeze else batched
