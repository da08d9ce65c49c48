"""The visits the OAA recorder sends to the cumulative-map store (and to the other ranks).

:class:`MapUpdate` is one image's visit, :class:`MapBatchUpdate` the visits of a whole training
batch as one set of arrays (what the recorder sends); :func:`sample_geometry` is the geometry a
store entry keeps so that :mod:`.export` can bring its maps back to the original image.
"""
from typing import Callable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch

#: metainfo keys copied from the data sample (the geometry needed by the export)
GEOMETRY_KEYS = ('ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction',
                 'crop_bbox')


class MapUpdate(NamedTuple):
    """One visit of one image, as the recorder hook sends it to the store (and to the other
    ranks).

    Attributes:
        img_id: image id (the store's key).
        classes: int64 (K,) ground-truth foreground classes of the image, ascending.
        attention: (K, h, w) quantised attention ``A_t`` (uint8 / uint16) of those classes.
        accepted: bool (K,): whether ``A_t^c`` passed the score condition and is fused.
        stamp: global training iteration of the visit (orders the ``last`` maps).
        meta: geometry of the image (see :data:`GEOMETRY_KEYS` and ``feature_stride``).
        keep: bool (K,): which classes' ``attention`` becomes their ``last`` map (None: all;
            the drop layer's ``'stored'`` rule keeps only the accepted ones).
    """
    img_id: str
    classes: np.ndarray
    attention: np.ndarray
    accepted: np.ndarray
    stamp: int
    meta: dict
    keep: Optional[np.ndarray] = None


class MapBatchUpdate(NamedTuple):
    """The visits of all images of one training batch, as one set of arrays (the recorder's
    batched update; :meth:`CumulativeMapStore.apply_batch`).

    The maps of image ``i`` are the rows ``offsets[i]:offsets[i + 1]`` of ``classes``,
    ``attention``, ``accepted`` and ``keep``; within an image the classes are ascending.

    Attributes:
        img_ids: the N image ids (distinct ids take the array path; repeats are applied one
            visit after the other).
        offsets: int64 (N + 1,) row offsets of the images.
        classes: int64 (M,) ground-truth classes of the maps.
        attention: (M, h, w) quantised attention (uint8 / uint16), one feature size.
        accepted: bool (M,): maps that passed the score condition.
        stamp: global training iteration of the visits.
        metas: per image its geometry (:func:`sample_geometry`; may be empty for an image the
            store already holds).
        keep: bool (M,) classes whose attention becomes their ``last`` map (None: all).
    """
    img_ids: Tuple[str, ...]
    offsets: np.ndarray
    classes: np.ndarray
    attention: np.ndarray
    accepted: np.ndarray
    stamp: int
    metas: Tuple[dict, ...]
    keep: Optional[np.ndarray] = None

    def image_updates(self) -> List[MapUpdate]:
        """The same visits as one :class:`MapUpdate` per image."""
        updates = []
        for index, img_id in enumerate(self.img_ids):
            rows = slice(int(self.offsets[index]), int(self.offsets[index + 1]))
            updates.append(MapUpdate(img_id, self.classes[rows], self.attention[rows],
                                     self.accepted[rows], int(self.stamp),
                                     dict(self.metas[index]),
                                     None if self.keep is None else self.keep[rows]))
        return updates


def _plain(value):
    """Metadata as plain Python types (safe for ``torch.load(weights_only=True)``)."""
    if isinstance(value, (np.generic, )):
        return value.item()
    if isinstance(value, np.ndarray):
        return tuple(_plain(v) for v in value.tolist())
    if isinstance(value, torch.Tensor):
        return _plain(value.cpu().numpy())
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    return value


def sample_geometry(metainfo: Mapping, feature_stride: Sequence[float]) -> dict:
    """The geometry a store entry keeps: :data:`GEOMETRY_KEYS` found in ``metainfo`` plus
    ``feature_stride`` = input pixels per feature cell, (stride_h, stride_w)."""
    meta = {key: _plain(metainfo[key]) for key in GEOMETRY_KEYS
            if key in metainfo and metainfo[key] is not None}
    if 'img_shape' not in meta:
        raise KeyError('the data sample has no img_shape metainfo; pack it (PackWSSSInputs)')
    meta['img_shape'] = tuple(int(v) for v in meta['img_shape'][:2])
    meta.setdefault('ori_shape', meta['img_shape'])
    meta['ori_shape'] = tuple(int(v) for v in meta['ori_shape'][:2])
    meta['feature_stride'] = (float(feature_stride[0]), float(feature_stride[1]))
    return meta



def as_batch(update: MapUpdate) -> MapBatchUpdate:
    """One image's visit as a batch of one image (what :meth:`CumulativeMapStore.apply`
    hands to the store's one update path)."""
    classes = np.asarray(update.classes)
    keep = getattr(update, 'keep', None)
    return MapBatchUpdate((update.img_id, ), np.array([0, len(classes)], np.int64), classes,
                          update.attention, np.asarray(update.accepted, bool),
                          int(update.stamp), (update.meta, ),
                          None if keep is None else np.asarray(keep, bool))


def _quantized(attention: np.ndarray, map_dtype: np.dtype, quantize: Callable) -> np.ndarray:
    """``attention`` in the store's ``map_dtype``: floats in [0, 1] are quantised, another
    integer type is an error (it would be read as already-quantised levels)."""
    if attention.dtype == map_dtype:
        return attention
    if np.issubdtype(attention.dtype, np.integer):
        raise TypeError(f'quantised attention must be {map_dtype}, got {attention.dtype}')
    return quantize(attention)


def build_update(map_dtype: np.dtype, quantize: Callable, img_id: str, classes: Sequence[int],
                 attention,
                accepted: Optional[Sequence[bool]] = None, stamp: int = 0,
                meta: Optional[dict] = None,
                keep: Optional[Sequence[bool]] = None) -> MapUpdate:
    """Build a :class:`MapUpdate`; float ``attention`` in [0, 1] is quantised."""
    classes = np.asarray(classes, dtype=np.int64).reshape(-1)
    attention = np.asarray(attention)
    if attention.ndim == 2:
        attention = attention[None]
    if attention.ndim != 3 or attention.shape[0] != len(classes):
        raise ValueError(f'image "{img_id}": attention must be (K, h, w) with K = '
                         f'{len(classes)} classes, got shape {attention.shape}')
    attention = _quantized(attention, map_dtype, quantize)
    order = np.argsort(classes, kind='stable')
    if (np.diff(classes[order]) == 0).any():
        raise ValueError(f'image "{img_id}": repeated classes {classes.tolist()}')
    accepted = (np.ones(len(classes), bool) if accepted is None
                else np.asarray(accepted, bool).reshape(-1))
    if accepted.shape[0] != len(classes):
        raise ValueError(f'image "{img_id}": {accepted.shape[0]} accept flags for '
                         f'{len(classes)} classes')
    if keep is not None:
        keep = np.asarray(keep, bool).reshape(-1)[order]
    return MapUpdate(str(img_id), classes[order], attention[order], accepted[order],
                     int(stamp), dict(meta or {}), keep)



def build_batch_update(map_dtype: np.dtype, quantize: Callable,
                       img_ids: Sequence[str], offsets, classes, attention,
                      accepted=None, stamp: int = 0,
                      metas: Optional[Sequence[dict]] = None,
                      keep=None) -> MapBatchUpdate:
    """Build a :class:`MapBatchUpdate` (float ``attention`` in [0, 1] is quantised) and
    check its layout: one offset per image plus the end, ascending classes per image."""
    img_ids = tuple(str(i) for i in img_ids)
    offsets = np.asarray(offsets, np.int64).reshape(-1)
    classes = np.asarray(classes, np.int64).reshape(-1)
    attention = np.asarray(attention)
    num = len(classes)
    if len(offsets) != len(img_ids) + 1 or offsets[0] != 0 or offsets[-1] != num or \
            (np.diff(offsets) < 0).any():
        raise ValueError(f'offsets must rise from 0 to the {num} maps, one per image and '
                         f'the end ({len(img_ids) + 1} values), got {offsets.tolist()}')
    if attention.ndim != 3 or attention.shape[0] != num:
        raise ValueError(f'attention must be (M, h, w) with M = {num} maps, got shape '
                         f'{attention.shape}')
    attention = _quantized(attention, map_dtype, quantize)
    image_index = np.repeat(np.arange(len(img_ids)), np.diff(offsets))
    rising = np.diff(classes) > 0
    same_image = image_index[1:] == image_index[:-1]
    if (same_image & ~rising).any():
        bad = img_ids[int(image_index[1:][same_image & ~rising][0])]
        raise ValueError(f'image "{bad}": the classes of an image must be ascending and '
                         'distinct in a batch update')
    accepted = (np.ones(num, bool) if accepted is None
                else np.asarray(accepted, bool).reshape(-1))
    if keep is not None:
        keep = np.asarray(keep, bool).reshape(-1)
    for name, flags in (('accepted', accepted), ('keep', keep)):
        if flags is not None and flags.shape != (num, ):
            raise ValueError(f'{name} must have one flag per map ({num}), got '
                             f'{flags.shape}')
    metas = tuple(dict(m or {}) for m in (metas or [{}] * len(img_ids)))
    if len(metas) != len(img_ids):
        raise ValueError(f'{len(metas)} metas for {len(img_ids)} images')
    return MapBatchUpdate(img_ids, offsets, classes, attention, accepted, int(stamp),
                          metas, keep)

