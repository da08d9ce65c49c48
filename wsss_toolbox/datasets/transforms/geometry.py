"""Map a prediction made on a transformed image back onto the original image."""
from typing import Mapping

import torch
import torch.nn.functional as F

_FLIP_DIMS = {'horizontal': (-1, ), 'vertical': (-2, ), 'diagonal': (-2, -1)}


def restore_geometry(maps: torch.Tensor, metainfo: Mapping, fill: float = 0.0,
                     mode: str = 'bilinear') -> torch.Tensor:
    """Undo ``Resize`` -> ``RecordedRandomCrop`` -> ``RandomFlip`` (that order) on maps.

    Args:
        maps: (C, h, w) maps at the network-input size ``metainfo['img_shape']``.
        metainfo: the data sample's metainfo: ``ori_shape``, and whichever of
            ``scale_factor`` (w, h), ``crop_bbox`` (x1, y1, x2, y2), ``flip``,
            ``flip_direction`` the pipeline recorded.
        fill: value of the pixels of the original image that the crop left out.
        mode: interpolation of the final resize: ``'bilinear'`` (maps) or ``'nearest'``
            (label masks; done as torch's pixel-centre ``'nearest-exact'``).

    Returns:
        (C, H, W) maps aligned with the original image (``ori_shape``).
    """
    if maps.dim() != 3:
        raise ValueError(f'expected (C, h, w) maps, got shape {tuple(maps.shape)}')
    if metainfo.get('flip', False):
        maps = torch.flip(maps, _FLIP_DIMS[metainfo.get('flip_direction') or 'horizontal'])
    ori_h, ori_w = metainfo['ori_shape'][:2]
    w_scale, h_scale = metainfo.get('scale_factor', (1.0, 1.0))
    if 'crop_bbox' in metainfo:
        x1, y1, x2, y2 = metainfo['crop_bbox']
        frame_h, frame_w = int(round(ori_h * h_scale)), int(round(ori_w * w_scale))
        canvas = maps.new_full((maps.shape[0], frame_h, frame_w), fill)
        canvas[:, y1:y2, x1:x2] = maps[:, :y2 - y1, :x2 - x1]
        maps = canvas
    if tuple(maps.shape[-2:]) != (ori_h, ori_w):
        if mode == 'nearest':
            mode = 'nearest-exact'
        kwargs = dict(align_corners=False) if mode in ('bilinear', 'bicubic') else {}
        maps = F.interpolate(maps[None].float(), size=(ori_h, ori_w), mode=mode,
                             **kwargs)[0].to(maps.dtype)
    return maps
