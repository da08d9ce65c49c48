"""Soft pixel labels from stage-2 map files (OAA+'s integral attention model, paper Sec. 3.4),
and the training-data transforms of OAA-PyTorch's loaders (short side 224 keeping the aspect
ratio, ColorJitter; utils/LoadData.py L23-28).
"""
from typing import Optional, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData

from wsss_toolbox.datasets.transforms import DEFAULT_META_KEYS, PackWSSSInputs
from wsss_toolbox.registry import TRANSFORMS
from wsss_toolbox.utils import check_choice

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
    """Resize the image so that its short side is ``size``, keeping the aspect ratio, after
    OAA-PyTorch's ``ResizeShort(224)`` (utils/imutils.py L24-39; its training and test loaders,
    utils/LoadData.py L24, L30, L54, L136).

    Size (``long_side_rounding``):

    * ``'round'`` (default; the authors, imutils.py L33-36): an image narrower than it is high
      (w < h) becomes ``size`` wide and ``round(h * size / w)`` high, any other (w >= h,
      squares included) ``size`` high and ``round(w * size / h)`` wide, with Python 3's
      ``round`` (the scripts run under python3): the float quotient to the nearest integer,
      exact halves to the even one. VOC's 375x500 (h x w) becomes 224x299; 128x134 becomes
      224x234 (234.5 rounds down).
    * ``'floor'``: the long side truncated, ``int(size * long / short)``, the rule of
      torchvision's ``Resize(size)``, which the authors left commented out (LoadData.py L23):
      375x500 becomes 224x298.

    Resampling of the image (``backend``):

    * ``'pil'`` (default; the authors resize PIL images, ``resample=PIL.Image.CUBIC``):
      Pillow's ``Image.resize`` with the filter ``interpolation`` names, on the uint8 image
      (each channel alone, so BGR needs no conversion). Pillow widens the filter's support by
      the scale factor when it shrinks an image, i.e. it antialiases.
    * ``'cv2'``: ``cv2.resize`` (``INTER_CUBIC``, ``INTER_LINEAR``, ``INTER_NEAREST``,
      ``INTER_AREA``); its bicubic does not antialias when shrinking.

    ``seg_fields`` are resized with nearest neighbours by OpenCV (``backend='pil'``:
    ``INTER_NEAREST_EXACT``, the pixel-centre rule of Pillow's ``NEAREST``; ``'cv2'``:
    ``INTER_NEAREST``). Sets ``img_shape``, ``scale_factor`` (w, h) and ``keep_ratio``.

    Args:
        size: the target short side (authors: 224).
        interpolation: ``'bicubic'`` (authors), ``'bilinear'``, ``'nearest'`` or ``'area'``
            (Pillow: its box filter).
        backend: ``'pil'`` (authors) or ``'cv2'``.
        long_side_rounding: ``'round'`` (authors) or ``'floor'`` (torchvision's ``Resize``).
    """
    INTERPOLATIONS = ('bicubic', 'bilinear', 'nearest', 'area')
    BACKENDS = ('pil', 'cv2')
    ROUNDINGS = ('round', 'floor')

    def __init__(self, size: int = 224, interpolation: str = 'bicubic', backend: str = 'pil',
                 long_side_rounding: str = 'round') -> None:
        for name, value, allowed in (('interpolation', interpolation, self.INTERPOLATIONS),
                                     ('backend', backend, self.BACKENDS),
                                     ('long_side_rounding', long_side_rounding,
                                      self.ROUNDINGS)):
            check_choice(f'ResizeShortSide: {name}', value, allowed)
        if int(size) < 1:
            raise ValueError(f'ResizeShortSide: size must be a positive integer, got {size!r}')
        self.size = int(size)
        self.interpolation = interpolation
        self.backend = backend
        self.long_side_rounding = long_side_rounding

    @staticmethod
    def target_shape(height: int, width: int, size: int,
                     long_side_rounding: str = 'round') -> tuple:
        """(new_h, new_w): ``'round'`` = OAA-PyTorch's ``ResizeShort`` (imutils.py L33-36),
        ``'floor'`` = torchvision's ``Resize(size)``."""
        if long_side_rounding == 'round':
            if width < height:
                return int(round(height * size / width)), size
            return size, int(round(width * size / height))
        if height <= width:
            return size, int(size * width / height)
        return int(size * height / width), size

    def _resize_image(self, img: np.ndarray, new_h: int, new_w: int) -> np.ndarray:
        import cv2
        if self.backend == 'cv2':
            flags = dict(bicubic=cv2.INTER_CUBIC, bilinear=cv2.INTER_LINEAR,
                         nearest=cv2.INTER_NEAREST, area=cv2.INTER_AREA)
            return cv2.resize(img, (new_w, new_h), interpolation=flags[self.interpolation])
        from PIL import Image
        squeeze = img.ndim == 3 and img.shape[2] == 1
        if img.dtype != np.uint8 or not (img.ndim == 2 or squeeze or
                                         (img.ndim == 3 and img.shape[2] == 3)):
            raise ValueError(
                "ResizeShortSide(backend='pil') resizes uint8 images of 1 or 3 channels, got "
                f"{img.dtype} {img.shape}; use backend='cv2' for other images")
        filters = dict(bicubic=Image.BICUBIC, bilinear=Image.BILINEAR, nearest=Image.NEAREST,
                       area=Image.BOX)
        pil = Image.fromarray(np.ascontiguousarray(img[..., 0] if squeeze else img))
        out = np.asarray(pil.resize((new_w, new_h), resample=filters[self.interpolation]))
        return out[..., None] if squeeze else out

    def transform(self, results: dict) -> dict:
        import cv2
        img = results['img']
        height, width = img.shape[:2]
        new_h, new_w = self.target_shape(height, width, self.size, self.long_side_rounding)
        results['img'] = self._resize_image(img, new_h, new_w)
        nearest = cv2.INTER_NEAREST_EXACT if self.backend == 'pil' else cv2.INTER_NEAREST
        for key in results.get('seg_fields', []):
            if results.get(key) is not None:
                results[key] = cv2.resize(results[key], (new_w, new_h), interpolation=nearest)
        results['img_shape'] = (new_h, new_w)
        results['scale_factor'] = (new_w / width, new_h / height)
        results['keep_ratio'] = True
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(size={self.size}, interpolation='
                f'{self.interpolation!r}, backend={self.backend!r}, '
                f'long_side_rounding={self.long_side_rounding!r})')


@TRANSFORMS.register_module()
class ColorJitterBGR(BaseTransform):
    """Colour jitter of the BGR uint8 image of the mmcv pipeline with the parameters of
    torchvision's ``ColorJitter(brightness, contrast, saturation, hue)`` (OAA-PyTorch's
    loaders: 0.3, 0.3, 0.3, 0.1, utils/LoadData.py L25, L137); photometric only, so OAA's
    fixed geometry is kept.

    ``backend='pil'`` (the authors' reading): OAA-PyTorch imports its own copy of torchvision
    0.2's transforms (LoadData.py L2: ``utils/transforms/``), which jitters PIL images. Its
    ``ColorJitter.get_params`` (utils/transforms/transforms.py L537-567) draws the factors
    with numpy's global generator, ``np.random.uniform`` in the order brightness
    ([max(0, 1 - b), 1 + b]), contrast, saturation, hue ([-hue, hue]), skipping a strength
    of 0, then orders the adjustments with ``np.random.shuffle``. Here: the same numpy calls
    in the same order (the same factors and order for the same generator state, tested), and
    the adjustments are ``torchvision.transforms.functional`` on a PIL RGB image: Pillow's
    ``ImageEnhance`` Brightness / Contrast / Color, and the hue added to the uint8 hue channel
    of Pillow's 8-bit HSV mode, ``trunc(hue_factor * 255)`` modulo 256 (their
    utils/transforms/functional.py L392-494). Not reproduced: the generator's state. Here
    mmengine's ``worker_init_fn`` seeds numpy in each loader worker from the run's seed; the
    authors' loader has 8 workers and no seeding of its own, and torch before 1.9 did not
    reseed numpy in workers (their README asks for torch >= 1.0), so under such a torch every
    worker started from the main process's numpy state each epoch.

    ``backend='tensor'`` (default; torchvision's reading):
    torchvision's ``ColorJitter`` on a uint8 tensor: order and factors from torch's generator
    (``torch.randperm(4)`` first), hue shifted in float HSV with the exact factor, so
    ``(R, G, B) = (200, 40, 40)`` shifted by 0.05 becomes (200, 88, 40) here and (200, 85, 40)
    with ``'pil'`` (hue quantised to 256 levels, shift truncated to 12/255; tested).

    Args:
        brightness, contrast, saturation, hue: torchvision's ``ColorJitter`` arguments.
        backend: ``'tensor'`` or ``'pil'`` (authors).
    """
    BACKENDS = ('tensor', 'pil')

    def __init__(self, brightness: float = 0.3, contrast: float = 0.3, saturation: float = 0.3,
                 hue: float = 0.1, backend: str = 'tensor') -> None:
        from torchvision.transforms import ColorJitter
        check_choice('ColorJitterBGR: backend', backend, self.BACKENDS)
        self.params = (brightness, contrast, saturation, hue)
        self.backend = backend
        # torchvision checks the strengths and turns them into ranges (None = strength 0)
        self.jitter = ColorJitter(brightness, contrast, saturation, hue)

    def _jitter_pil(self, img: np.ndarray) -> np.ndarray:
        import torchvision.transforms.functional as F
        from PIL import Image
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise ValueError("ColorJitterBGR(backend='pil') jitters uint8 BGR images, got "
                             f'{img.dtype} {img.shape}')
        adjust = (F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue)
        ranges = (self.jitter.brightness, self.jitter.contrast, self.jitter.saturation,
                  self.jitter.hue)
        # the authors' get_params: one np.random.uniform per non-zero strength, in this
        # order, then np.random.shuffle of the list of adjustments
        steps = [(fn, np.random.uniform(*bounds)) for fn, bounds in zip(adjust, ranges)
                 if bounds is not None]
        np.random.shuffle(steps)
        if not steps:
            return img
        pil = Image.fromarray(np.ascontiguousarray(img[..., ::-1]))
        for fn, factor in steps:
            pil = fn(pil, float(factor))
        return np.ascontiguousarray(np.asarray(pil)[..., ::-1])

    def transform(self, results: dict) -> dict:
        img = results['img']
        if self.backend == 'pil':
            results['img'] = self._jitter_pil(img)
            return results
        rgb = torch.from_numpy(np.ascontiguousarray(img[..., ::-1].transpose(2, 0, 1)))
        jittered = self.jitter(rgb).numpy().transpose(1, 2, 0)[..., ::-1]
        results['img'] = np.ascontiguousarray(jittered)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}{self.params + (self.backend, )}'
