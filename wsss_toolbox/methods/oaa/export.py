"""Export of OAA's cumulative maps: the two export modes and the map files.

* :func:`export_image` (``mode='toolbox'``): bicubic to the network input, geometry undone,
  resized to the original size, clipped at 0, min-max per class;
* :func:`export_image_authors` (``mode='authors'``, the authors' ``res.py``): one bicubic
  resize of the stored uint8 map to the original size, saturated at 0 and 255, min-max;
* :func:`export_store` writes every image as a stage-2 map file
  (:func:`wsss_toolbox.maps.save_maps`) and optionally the stored uint8 maps at feature
  resolution (:func:`save_stored_maps` / :func:`load_stored_maps`, the integral attention
  model's targets in the authors' code).

The functions read a :class:`~wsss_toolbox.methods.oaa.store.CumulativeMapStore` through its
public methods; the store's ``export*`` methods call them.
"""
import warnings
from typing import TYPE_CHECKING, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from wsss_toolbox.maps.io import atomic_write, map_path, save_maps
from wsss_toolbox.maps.normalize import normalize_maps

if TYPE_CHECKING:  # pragma: no cover
    from .store import CumulativeMapStore

EXPORT_MODES = ('toolbox', 'authors')


def feature_maps_to_image(maps: torch.Tensor, feature_stride: Sequence[float],
                          img_shape: Sequence[int], mode: str = 'bilinear') -> torch.Tensor:
    """Upsample (K, h, w) maps of the valid feature region to the network-input image.

    The ``h x w`` cells cover ``h * stride_h x w * stride_w`` input pixels (at least the image;
    more when the image size is not a multiple of the stride): the maps are resized to that
    extent and cropped to ``img_shape`` (as :func:`resize_maps_to_image` does for a padded
    batch).
    """
    height, width = int(img_shape[0]), int(img_shape[1])
    cover_h = max(height, int(round(maps.shape[-2] * feature_stride[0])))
    cover_w = max(width, int(round(maps.shape[-1] * feature_stride[1])))
    kwargs = dict(align_corners=False) if mode in ('bilinear', 'bicubic') else {}
    resized = F.interpolate(maps[None].float(), size=(cover_h, cover_w), mode=mode, **kwargs)
    return resized[0, :, :height, :width]


def export_image_authors(store: 'CumulativeMapStore', img_id: str,
                         normalize: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """The authors' export (``res.py``): the stored uint8 map at feature resolution is
    resized **once** to the original image size, bicubic on uint8 (OpenCV, which
    saturates the overshoot at 0 and 255), then min-max normalised per class.

    Only for a fixed geometry without flip / crop (the authors' training pipeline).
    """
    import cv2
    meta = store.meta(img_id)
    if meta.get('flip') or meta.get('crop_bbox') is not None:
        raise ValueError(f'image "{img_id}": the authors\' export resizes the feature map '
                         'straight to the original size; it cannot undo a flip or crop '
                         "(use export_mode='toolbox')")
    height, width = (int(v) for v in meta['ori_shape'][:2])
    stored = store.stored_uint8(img_id)
    maps = np.zeros((len(stored), height, width), np.float32)
    for index, cell_map in enumerate(stored):
        resized = cv2.resize(cell_map, (width, height), interpolation=cv2.INTER_CUBIC)
        maps[index] = resized.astype(np.float32) / 255
    maps = torch.from_numpy(maps)
    if normalize and maps.shape[0]:
        maps = normalize_maps(maps, 'minmax', eps=1e-12)
    return store.classes(img_id), maps.clamp(0, 1).numpy().astype(np.float32)


def export_image(store: 'CumulativeMapStore', img_id: str, interpolation: str = 'bicubic',
                 normalize: bool = True,
                 mode: str = 'toolbox') -> Tuple[np.ndarray, np.ndarray]:
    """The cumulative maps of one image at its original size.

    ``mode='authors'``: :func:`export_image_authors` (``interpolation`` is ignored).
    ``mode='toolbox'`` (default):

    Steps (the toolbox's reading: Sec. 3.2 does not say how the cumulative maps are
    brought to image size, so bicubic upsampling and min-max are our choice; the
    authors' ``res.py`` differs, see :func:`export_image_authors`): upsample the feature-
    resolution maps to the network input (``interpolation``, bicubic by default), undo the
    recorded geometry (:func:`restore_geometry`: flip, crop, resize to ``ori_shape``),
    clip the interpolation's negative overshoot to 0 and min-max normalise every class
    map to [0, 1] (after clipping, so the zeros of ``M`` stay zeros).

    Returns:
        ``(classes int64 (K,), maps float32 (K, H, W))``.
    """
    if mode == 'authors':
        return export_image_authors(store, img_id, normalize)
    if mode != 'toolbox':
        raise ValueError(f"export mode must be 'toolbox' or 'authors', got {mode!r}")
    from wsss_toolbox.datasets.transforms import restore_geometry
    meta = store.meta(img_id)
    maps = torch.from_numpy(store.cumulative_maps(img_id))
    maps = feature_maps_to_image(maps, meta['feature_stride'], meta['img_shape'],
                                 mode=interpolation)
    maps = restore_geometry(maps, meta, mode=interpolation).clamp(min=0)
    if normalize and maps.shape[0]:
        # per class to [0, 1]; a constant map becomes all zeros
        maps = normalize_maps(maps, 'minmax', eps=1e-12)
    return store.classes(img_id), maps.clamp(0, 1).numpy().astype(np.float32)


def export_store(store: 'CumulativeMapStore', map_dir: str,
                 img_ids: Optional[Sequence[str]] = None, rank: int = 0,
                 world_size: int = 1, interpolation: str = 'bicubic',
                 normalize: bool = True, mode: str = 'toolbox',
                 raw_dir: Optional[str] = None) -> int:
    """Write every image's maps as a stage-2 map file ``<map_dir>/<img_id>.npz``
    (:func:`wsss_toolbox.maps.save_maps`; original image size, values in [0, 1]).

    Classes without any accepted map are written as all-zero maps (one warning).

    Args:
        store: the cumulative maps.
        map_dir: output folder.
        img_ids: images to export (default: all, in insertion order).
        rank, world_size: export ``img_ids[rank::world_size]`` (ranks share the work).
        interpolation, normalize, mode: see :func:`export_image`.
        raw_dir: also write the stored uint8 maps at feature resolution there
            (:func:`save_stored_maps`, the integral attention model's targets in the
            authors' code).

    Returns:
        number of files written by this call.
    """
    ids = store.img_ids() if img_ids is None else list(img_ids)
    missing = []
    written = 0
    for img_id in ids[rank::world_size]:
        classes, maps = export_image(store, img_id, interpolation, normalize, mode)
        if not store.counts(img_id).all():
            missing.append(img_id)
        save_maps(map_path(map_dir, img_id), img_id, classes, maps)
        if raw_dir is not None:
            save_stored_maps(map_path(raw_dir, img_id), img_id, classes,
                             store.stored_uint8(img_id))
        written += 1
    if missing:
        warnings.warn(f'{len(missing)} image(s) have classes without any accepted '
                      f'attention map (exported as zeros), e.g. {missing[:3]}',
                      stacklevel=3)
    return written


def save_stored_maps(path: str, img_id: str, classes: np.ndarray, maps: np.ndarray) -> None:
    """Write the stored uint8 (K, h, w) cumulative maps of one image at feature resolution
    (``img_id``, ``classes``, ``maps`` in a compressed ``.npz``; atomic write)."""
    atomic_write(path, lambda f: np.savez_compressed(
        f, img_id=np.array(str(img_id)), classes=np.asarray(classes, np.int64),
        maps=np.asarray(maps, np.uint8)))


def load_stored_maps(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """Read a :func:`save_stored_maps` file: ``(classes int64 (K,), maps uint8 (K, h, w))``."""
    with np.load(path, allow_pickle=False) as data:
        if 'maps' not in data or data['maps'].dtype != np.uint8:
            raise ValueError(f'"{path}" is not a stored cumulative-map file (uint8 maps at '
                             'feature resolution, written with export_raw_dir)')
        return data['classes'].astype(np.int64), data['maps'].copy()
