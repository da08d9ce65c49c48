"""Soft pixel labels from stage-2 map files (OAA+'s integral attention model, oaa.md §3), and
the authors' training-data transforms (short side 224 keeping the aspect ratio, ColorJitter).
"""
from typing import Optional, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData

from wsss_toolbox.datasets.transforms import DEFAULT_META_KEYS, PackWSSSInputs
from wsss_toolbox.registry import TRANSFORMS

SOFT_MAPS_KEY = 'gt_soft_maps'


@TRANSFORMS.register_module()
class LoadCumulativeMaps(BaseTransform):
    """Load an image's map file (``<map_dir>/<img_id>.npz``, e.g. the cumulative maps an OAA
    run exported) as dense soft labels.

    Adds ``gt_soft_maps``: float32 (H, W, C) at the original image size, channel ``c`` = the
    map of foreground class ``c`` (values in [0, 1]; all zeros for classes the file does not
    hold, i.e. classes absent from the image), and appends it to ``seg_fields`` so that
    mmseg's ``Resize``, ``RandomFlip``, ``RandomCrop`` and :class:`RecordedRandomCrop` move it
    with the image (nearest-neighbour, as every seg field). Put it right after the image
    loader, before any geometric transform; pack with :class:`PackWSSSInputsWithSoftMaps`.

    Args:
        map_dir: folder of the map files.
        num_classes: number C of foreground classes (default: the length of ``gt_label``).
    """

    def __init__(self, map_dir: str, num_classes: Optional[int] = None) -> None:
        if not map_dir:
            raise ValueError('LoadCumulativeMaps needs map_dir: the folder of the map files '
                             'of an OAA run (<oaa work dir>/cumulative_maps)')
        self.map_dir = map_dir
        self.num_classes = num_classes

    def transform(self, results: dict) -> dict:
        from wsss_toolbox.maps.io import load_maps, map_path
        img_id = str(results['img_id'])
        path = map_path(self.map_dir, img_id)
        try:
            record = load_maps(path, img_id=img_id, tags=results.get('gt_label'))
        except FileNotFoundError:
            raise FileNotFoundError(
                f'soft-label map file "{path}" of image "{img_id}" does not exist: train the '
                'OAA classifier first (it exports its cumulative maps to '
                '<work_dir>/cumulative_maps) and point LoadCumulativeMaps.map_dir there'
            ) from None
        img_hw = tuple(results['img'].shape[:2])
        if tuple(results.get('img_shape', img_hw)[:2]) != tuple(
                results.get('ori_shape', img_hw)[:2]):
            raise RuntimeError('LoadCumulativeMaps must come before any geometric transform '
                               f'(image {results.get("img_path")!r} was already resized)')
        maps = record['maps']
        if tuple(maps.shape[1:]) != img_hw:
            raise ValueError(f'map file "{path}" holds {maps.shape[2]}x{maps.shape[1]} (WxH) '
                             f'maps but its image {results.get("img_path")!r} is '
                             f'{img_hw[1]}x{img_hw[0]}; the maps must be at the original size')
        num_classes = self.num_classes or len(np.asarray(results['gt_label']).reshape(-1))
        classes = record['classes']
        if classes.size and classes.max() >= num_classes:
            raise ValueError(f'map file "{path}" has class {int(classes.max())} but the dataset '
                             f'has {num_classes} classes')
        dense = np.zeros(img_hw + (num_classes, ), np.float32)
        dense[..., classes] = np.moveaxis(maps, 0, -1)
        results[SOFT_MAPS_KEY] = dense
        seg_fields = results.setdefault('seg_fields', [])
        if SOFT_MAPS_KEY not in seg_fields:
            seg_fields.append(SOFT_MAPS_KEY)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(map_dir={self.map_dir!r}, num_classes={self.num_classes})'


@TRANSFORMS.register_module()
class PackWSSSInputsWithSoftMaps(PackWSSSInputs):
    """:class:`PackWSSSInputs` that also packs ``gt_soft_maps`` as a (C, H, W) float32
    ``PixelData`` of the data sample (the soft labels of :class:`IntegralAttentionHead`)."""

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        super().__init__(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        soft = results.get(SOFT_MAPS_KEY)
        packed = super().transform(results)
        if soft is not None:
            soft = np.asarray(soft, dtype=np.float32)
            if soft.ndim == 2:  # OpenCV drops a single channel when resizing
                soft = soft[..., None]
            packed['data_samples'].gt_soft_maps = PixelData(
                data=torch.from_numpy(np.ascontiguousarray(soft.transpose(2, 0, 1))))
        return packed


@TRANSFORMS.register_module()
class LoadStoredCumulativeMaps(BaseTransform):
    """The authors' integral-attention targets: the **stored** uint8 cumulative maps at
    feature resolution (``CumulativeMapRecorderHook(export_raw_dir=...)``) divided by 255, with
    no resizing (OAA-PyTorch trains the integral attention model on them as they are).

    Adds ``gt_soft_maps`` float32 (h, w, C) (absent classes 0), *not* registered in
    ``seg_fields``: geometric transforms do not touch it, and the head
    (``IntegralAttentionHead(label_resize_mode='none')``) checks that it has the size of the
    feature cells of the image. Pack with :class:`PackWSSSInputsWithSoftMaps`.

    Args:
        map_dir: folder of the stored-map files.
        num_classes: number C of foreground classes (default: the length of ``gt_label``).
    """

    def __init__(self, map_dir: str, num_classes: Optional[int] = None) -> None:
        if not map_dir:
            raise ValueError('LoadStoredCumulativeMaps needs map_dir: the export_raw_dir of an '
                             'OAA run')
        self.map_dir = map_dir
        self.num_classes = num_classes

    def transform(self, results: dict) -> dict:
        from wsss_toolbox.maps.io import map_path

        from .store import load_stored_maps
        img_id = str(results['img_id'])
        path = map_path(self.map_dir, img_id)
        try:
            classes, maps = load_stored_maps(path)
        except FileNotFoundError:
            raise FileNotFoundError(
                f'stored-map file "{path}" of image "{img_id}" does not exist: train the OAA '
                'classifier with CumulativeMapRecorderHook(export_raw_dir=...) first') from None
        num_classes = self.num_classes or len(np.asarray(results['gt_label']).reshape(-1))
        if classes.size and classes.max() >= num_classes:
            raise ValueError(f'stored-map file "{path}" has class {int(classes.max())} but the '
                             f'dataset has {num_classes} classes')
        dense = np.zeros(maps.shape[1:] + (num_classes, ), np.float32)
        dense[..., classes] = np.moveaxis(maps.astype(np.float32) / 255, 0, -1)
        results[SOFT_MAPS_KEY] = dense
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(map_dir={self.map_dir!r}, num_classes={self.num_classes})'


@TRANSFORMS.register_module()
class ResizeShortSide(BaseTransform):
    """Resize the image so that its short side is ``size``, keeping the aspect ratio, with
    torchvision's size rule (``Resize(224)`` of the authors' loader): the long side becomes
    ``int(size * long / short)`` (truncated). Sets ``img_shape``, ``scale_factor`` (w, h) and
    ``keep_ratio``; seg fields (``seg_fields``) are resized with nearest neighbours.

    Args:
        size: target short side (authors: 224).
        interpolation: OpenCV interpolation of the image (``'bicubic'``, authors;
            ``'bilinear'``, ``'nearest'``, ``'area'``).
    """
    INTERPOLATIONS = ('bicubic', 'bilinear', 'nearest', 'area')

    def __init__(self, size: int = 224, interpolation: str = 'bicubic') -> None:
        if interpolation not in self.INTERPOLATIONS:
            raise ValueError(f'interpolation must be one of {self.INTERPOLATIONS}, '
                             f'got {interpolation!r}')
        self.size = int(size)
        self.interpolation = interpolation

    @staticmethod
    def target_shape(height: int, width: int, size: int) -> tuple:
        """(new_h, new_w) of torchvision's ``Resize(size)``."""
        if height <= width:
            return size, int(size * width / height)
        return int(size * height / width), size

    def transform(self, results: dict) -> dict:
        import cv2
        flags = dict(bicubic=cv2.INTER_CUBIC, bilinear=cv2.INTER_LINEAR,
                     nearest=cv2.INTER_NEAREST, area=cv2.INTER_AREA)
        img = results['img']
        height, width = img.shape[:2]
        new_h, new_w = self.target_shape(height, width, self.size)
        results['img'] = cv2.resize(img, (new_w, new_h),
                                    interpolation=flags[self.interpolation])
        for key in results.get('seg_fields', []):
            if results.get(key) is not None:
                results[key] = cv2.resize(results[key], (new_w, new_h),
                                          interpolation=cv2.INTER_NEAREST)
        results['img_shape'] = (new_h, new_w)
        results['scale_factor'] = (new_w / width, new_h / height)
        results['keep_ratio'] = True
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(size={self.size}, interpolation={self.interpolation!r})'


@TRANSFORMS.register_module()
class ColorJitterBGR(BaseTransform):
    """torchvision's ``ColorJitter(brightness, contrast, saturation, hue)`` (authors' loader:
    0.3, 0.3, 0.3, 0.1) on the BGR uint8 image of the mmcv pipeline (converted to RGB and
    back); photometric only, so OAA's fixed geometry is kept. Uses torch's random generator.
    """

    def __init__(self, brightness: float = 0.3, contrast: float = 0.3, saturation: float = 0.3,
                 hue: float = 0.1) -> None:
        from torchvision.transforms import ColorJitter
        self.params = (brightness, contrast, saturation, hue)
        self.jitter = ColorJitter(brightness, contrast, saturation, hue)

    def transform(self, results: dict) -> dict:
        img = results['img']
        rgb = torch.from_numpy(np.ascontiguousarray(img[..., ::-1].transpose(2, 0, 1)))
        jittered = self.jitter(rgb).numpy().transpose(1, 2, 0)[..., ::-1]
        results['img'] = np.ascontiguousarray(jittered)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}{self.params}'
