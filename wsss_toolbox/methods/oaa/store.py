"""The cumulative attention-map store of OAA (Jiang et al., TPAMI; Sec. 3.2-3.3).

For every training image the store keeps, per ground-truth class ``c``, the cumulative map
``M^c`` at feature resolution (the part of the feature map that covers the image, padding
cropped away), quantised to 8 or 16 bits:

* ``fusion='max'`` (OAA Eq. 5): ``M_t = max(M_{t-1}, A_t)``, stored as the quantised maximum.
  The first accepted map initialises ``M`` (Eq. 4): attention is >= 0, so a maximum with the
  all-zero initial value is the same thing.
* ``fusion='mean'`` (OAA Eq. 10): ``M_t = ((t - 1) M_{t-1} + A_t) / t``, stored as the
  integer *sum* of the quantised maps and the number ``t`` of accepted maps, so that
  ``M = sum / t`` exactly and merging two stores (ranks of a distributed run) is a plain
  addition, independent of the order.

An entry also counts the accepted maps per class (``counts``; 0 = no map accepted yet), the
visits of the image (``visits``), optionally the *last* attention seen for the image (what
the attention drop layer of OAA++ occludes, Algorithm 1) with the global iteration at which
it was seen (``last_stamp``), and the geometry needed to export the maps at the original
image size (``ori_shape``, ``img_shape``, ``feature_stride``, and ``scale_factor`` /
``flip`` / ``crop_bbox`` when the pipeline recorded them).

Every operation of the store is order independent: ``max`` and ``+`` commute, and ``last``
keeps the map with the highest stamp (ties: the element-wise maximum). A store built by N
ranks that exchange their updates therefore equals the store of one process that saw the
same images at the same iterations.

Backends: ``'memory'`` keeps the maps of all images of one feature size in one growable
array (a *slab*, one fixed slot per (image, class)); ``'memmap'`` keeps them in one
``numpy.memmap`` file with a fixed slot per (image, class), assigned from the image list given
to :meth:`CumulativeMapStore.reserve` (every image must have the same feature size, which OAA's
fixed-geometry training guarantees). Both give identical results and the same
:meth:`~CumulativeMapStore.state_dict`, which holds a copy of all data (a checkpoint never
refers to the memmap file).

Batched updates: :meth:`CumulativeMapStore.apply_batch` fuses the visits of a whole training
batch (:class:`MapBatchUpdate`, every map of the batch in one ``(M, h, w)`` array) with a few
array operations on the slab, indexed by the maps' slots: no Python work per map. It gives
exactly the store that applying the images' :class:`MapUpdate` one by one gives.
"""
import os
import os.path as osp
import warnings
from typing import Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from wsss_toolbox.maps.io import atomic_write, map_path, save_maps
from wsss_toolbox.maps.normalize import normalize_maps

FUSIONS = ('max', 'mean')
MAP_DTYPES = {8: np.uint8, 16: np.uint16}
# average fusion stores sums of quantised maps: room for at least 257 accepted maps
SUM_DTYPES = {8: np.uint16, 16: np.uint32}
STATE_VERSION = 1
#: metainfo keys copied from the data sample (the geometry needed by :meth:`export`)
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


class _Slab:
    """The maps of many (image, class) slots of one feature size: fused values, optional last
    maps, accepted counts, last stamps and the class of every slot (-1: free)."""
    __slots__ = ('shape', 'values', 'last', 'counts', 'last_stamp', 'slot_class', 'size')

    def __init__(self, shape, values, last) -> None:
        self.shape = tuple(shape)
        self.values = values
        self.last = last
        capacity = len(values)
        self.counts = np.zeros(capacity, np.uint16)
        self.last_stamp = np.full(capacity, -1, np.int64)
        self.slot_class = np.full(capacity, -1, np.int64)
        self.size = 0

    @classmethod
    def in_memory(cls, shape, value_dtype, map_dtype, keep_last: bool,
                  capacity: int = 64) -> '_Slab':
        values = np.zeros((capacity, ) + tuple(shape), value_dtype)
        last = np.zeros((capacity, ) + tuple(shape), map_dtype) if keep_last else None
        return cls(shape, values, last)

    def allocate(self, num: int) -> int:
        """First of ``num`` new consecutive slots (the arrays grow by doubling)."""
        start = self.size
        needed = start + num
        if needed > len(self.values):
            capacity = max(needed, 2 * len(self.values))
            self.values = self._grown(self.values, capacity, 0)
            if self.last is not None:
                self.last = self._grown(self.last, capacity, 0)
            self.counts = self._grown(self.counts, capacity, 0)
            self.last_stamp = self._grown(self.last_stamp, capacity, -1)
            self.slot_class = self._grown(self.slot_class, capacity, -1)
        self.size = needed
        return start

    @staticmethod
    def _grown(array: np.ndarray, capacity: int, fill) -> np.ndarray:
        grown = np.full((capacity, ) + array.shape[1:], fill, array.dtype)
        grown[:len(array)] = array
        return grown


class _Entry:
    """The store's record of one image: its slots ``start:start + K`` of a slab (the array
    attributes are views into the slab, taken at access time, so the slab may grow)."""
    __slots__ = ('classes', 'slab', 'start', 'visits', 'meta')

    def __init__(self, classes, slab, start, visits, meta):
        self.classes = classes
        self.slab = slab
        self.start = start
        self.visits = visits
        self.meta = meta

    @property
    def rows(self) -> slice:
        return slice(self.start, self.start + len(self.classes))

    @property
    def values(self) -> np.ndarray:
        return self.slab.values[self.rows]

    @property
    def last(self) -> Optional[np.ndarray]:
        return None if self.slab.last is None else self.slab.last[self.rows]

    @property
    def counts(self) -> np.ndarray:
        return self.slab.counts[self.rows]

    @counts.setter
    def counts(self, value) -> None:
        self.slab.counts[self.rows] = value

    @property
    def last_stamp(self) -> np.ndarray:
        return self.slab.last_stamp[self.rows]


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


class CumulativeMapStore:
    """Per-image cumulative attention maps, keyed by image id (see the module docstring).

    Args:
        fusion: ``'max'`` (OAA Eq. 5) or ``'mean'`` (Eq. 10, the paper's average fusion).
        bits: 8 or 16; maps are quantised to ``round(A * (2**bits - 1))``.
        keep_last: also keep the last attention of every image (needed by the attention drop
            layer, OAA++).
        backend: ``'memory'`` or ``'memmap'``.
        memmap_dir: folder of the memmap files (``'memmap'`` backend); they are recreated by
            every run (their content comes from the checkpoint on resume).
    """

    def __init__(self, fusion: str = 'max', bits: int = 8, keep_last: bool = False,
                 backend: str = 'memory', memmap_dir: Optional[str] = None) -> None:
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        if bits not in MAP_DTYPES:
            raise ValueError(f'bits must be 8 or 16, got {bits}')
        if backend not in ('memory', 'memmap'):
            raise ValueError(f"backend must be 'memory' or 'memmap', got {backend!r}")
        if backend == 'memmap' and not memmap_dir:
            raise ValueError("the 'memmap' backend needs memmap_dir (a folder for the map file)")
        self.fusion = fusion
        self.bits = bits
        self.keep_last = keep_last
        self.backend = backend
        self.memmap_dir = memmap_dir
        self.quant_max = 2**bits - 1
        self.map_dtype = np.dtype(MAP_DTYPES[bits])
        self.value_dtype = np.dtype(self.map_dtype if fusion == 'max' else SUM_DTYPES[bits])
        self._entries: Dict[str, _Entry] = {}
        # memory backend: one growable slab per feature size
        self._slabs: Dict[Tuple[int, int], _Slab] = {}
        # memmap backend: slot layout and the slab of files (allocated at the first entry)
        self._slots: Dict[str, Tuple[int, np.ndarray]] = {}
        self._num_slots = 0
        self._memmap_slab: Optional[_Slab] = None

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, img_id: str) -> bool:
        return img_id in self._entries

    def img_ids(self) -> List[str]:
        return list(self._entries)

    def quantize(self, attention) -> np.ndarray:
        """Float attention in [0, 1] -> unsigned integers (round to nearest)."""
        attention = np.clip(np.asarray(attention, dtype=np.float32), 0, 1)
        attention *= self.quant_max
        return np.rint(attention, out=attention).astype(self.map_dtype)

    def dequantize(self, values) -> np.ndarray:
        return np.asarray(values, dtype=np.float32) / self.quant_max

    @property
    def bytes_per_pixel(self) -> int:
        """Bytes of one map pixel: the fused value, plus the last map when kept."""
        return self.value_dtype.itemsize + (self.map_dtype.itemsize if self.keep_last else 0)

    def bytes_per_map(self, height: int, width: int) -> int:
        """Bytes one (image, class) entry of ``height x width`` cells takes (count included)."""
        return height * width * self.bytes_per_pixel + np.dtype(np.uint16).itemsize

    @property
    def nbytes(self) -> int:
        """Bytes of all map data held (fused values, last maps and counts)."""
        total = 0
        for entry in self._entries.values():
            total += entry.values.nbytes + entry.counts.nbytes
            if entry.last is not None:
                total += entry.last.nbytes
        return total

    @property
    def num_maps(self) -> int:
        return sum(len(entry.classes) for entry in self._entries.values())

    # ------------------------------------------------------------------ memmap slots
    def reserve(self, image_classes: Mapping[str, Sequence[int]]) -> None:
        """Assign a fixed memmap slot to every (image, class) (``'memmap'`` backend; a no-op
        for ``'memory'``). Call it once with every training image before the first update.

        Args:
            image_classes: ``{img_id: ground-truth class indices}``.
        """
        if self.backend != 'memmap':
            return
        if self._memmap_slab is not None:
            raise RuntimeError('reserve() must be called before the first update of a '
                               'memmap store')
        self._slots.clear()
        offset = 0
        for img_id, classes in image_classes.items():
            classes = np.unique(np.asarray(classes, dtype=np.int64))
            self._slots[str(img_id)] = (offset, classes)
            offset += len(classes)
        self._num_slots = offset

    def _allocate_memmap(self, shape: Tuple[int, int]) -> None:
        if not self._slots:
            raise RuntimeError('the memmap store has no reserved slots: call reserve() with '
                               'the training images first')
        os.makedirs(self.memmap_dir, exist_ok=True)
        size = (max(self._num_slots, 1), ) + tuple(shape)
        values = np.memmap(osp.join(self.memmap_dir, 'cumulative.mmap'),
                           dtype=self.value_dtype, mode='w+', shape=size)
        last = None
        if self.keep_last:
            last = np.memmap(osp.join(self.memmap_dir, 'last.mmap'), dtype=self.map_dtype,
                             mode='w+', shape=size)
        self._memmap_slab = _Slab(shape, values, last)
        for offset, classes in self._slots.values():
            self._memmap_slab.slot_class[offset:offset + len(classes)] = classes

    # ------------------------------------------------------------------ entries
    def _new_entry(self, img_id: str, classes: np.ndarray, shape: Tuple[int, int],
                   meta: dict) -> _Entry:
        missing = {'img_shape', 'feature_stride'} - set(meta)
        if missing:
            raise KeyError(f'the first update of image "{img_id}" must carry its geometry '
                           f'(meta lacks {sorted(missing)}; see sample_geometry)')
        num = len(classes)
        shape = tuple(int(v) for v in shape)
        if self.backend == 'memory':
            slab = self._slabs.get(shape)
            if slab is None:
                slab = self._slabs[shape] = _Slab.in_memory(
                    shape, self.value_dtype, self.map_dtype, self.keep_last)
            start = slab.allocate(num)
            slab.slot_class[start:start + num] = classes
        else:
            if img_id not in self._slots:
                raise KeyError(f'image "{img_id}" has no slot in the memmap store; reserve() '
                               'must list every training image')
            start, reserved = self._slots[img_id]
            if not np.array_equal(reserved, classes):
                raise ValueError(f'image "{img_id}": classes {classes.tolist()} differ from the '
                                 f'reserved {reserved.tolist()}')
            if self._memmap_slab is None:
                self._allocate_memmap(shape)
            slab = self._memmap_slab
            if shape != slab.shape:
                raise ValueError(
                    f'image "{img_id}" has feature maps of size {shape} but the memmap '
                    f'store holds {slab.shape}: the memmap backend needs one input '
                    "size for every image (a fixed Resize); use backend='memory' otherwise")
        entry = _Entry(classes=classes, slab=slab, start=start, visits=0, meta=dict(meta))
        rows = entry.rows
        slab.values[rows] = 0
        if slab.last is not None:
            slab.last[rows] = 0
        slab.counts[rows] = 0
        slab.last_stamp[rows] = -1
        self._entries[img_id] = entry
        return entry

    def _entry_for(self, img_id: str, classes: np.ndarray, shape: Tuple[int, int],
                   meta: dict) -> _Entry:
        entry = self._entries.get(img_id)
        if entry is None:
            return self._new_entry(img_id, classes, shape, meta)
        if not np.array_equal(entry.classes, classes):
            raise ValueError(f'image "{img_id}" was stored with classes '
                             f'{entry.classes.tolist()} but now comes with {classes.tolist()}; '
                             'image ids must be unique and labels fixed')
        if entry.slab.shape != tuple(shape):
            raise self._geometry_error(img_id, entry.slab.shape, shape)
        return entry

    @staticmethod
    def _geometry_error(img_id: str, stored: tuple, given: tuple) -> ValueError:
        return ValueError(
            f'image "{img_id}" was stored with feature maps of size {tuple(stored)} and now '
            f'has {tuple(given)}: OAA fuses maps of the same image across epochs, so every '
            'visit needs the same geometry. Remove random resizing / cropping / flipping from '
            'the training pipeline.')

    # ------------------------------------------------------------------ updates
    def make_update(self, img_id: str, classes: Sequence[int], attention,
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
        if attention.dtype != self.map_dtype:
            if np.issubdtype(attention.dtype, np.integer):
                raise TypeError(f'quantised attention must be {self.map_dtype}, got '
                                f'{attention.dtype}')
            attention = self.quantize(attention)
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

    def apply(self, update: MapUpdate) -> None:
        """Fuse one visit into the store (OAA Eqs. 4-5 or 10 for the accepted classes)."""
        attention = update.attention
        entry = self._entry_for(update.img_id, update.classes, attention.shape[1:],
                                update.meta)
        accepted = update.accepted
        if accepted.any():
            if self.fusion == 'max':
                entry.values[accepted] = np.maximum(entry.values[accepted],
                                                    attention[accepted])
            else:
                if int(entry.counts.max(initial=0)) >= self._max_average_count():
                    raise OverflowError(
                        f'image "{update.img_id}": more than {self._max_average_count()} '
                        f'maps averaged; use bits=16')
                entry.values[accepted] += attention[accepted].astype(self.value_dtype)
            entry.counts[accepted] += 1
        entry.visits += 1
        if self.keep_last:
            keep = getattr(update, 'keep', None)
            self._merge_last(entry, attention, update.stamp, keep)

    def _max_average_count(self) -> int:
        return int(np.iinfo(self.value_dtype).max // self.quant_max)

    @staticmethod
    def _merge_last(entry: _Entry, last: np.ndarray, stamp, keep=None) -> None:
        """Per class: the map with the higher stamp wins (ties: element-wise maximum);
        ``keep`` (bool (K,)) limits the classes that take part."""
        stamps = np.broadcast_to(np.asarray(stamp, np.int64), entry.last_stamp.shape)
        chosen = np.ones(len(entry.last_stamp), bool) if keep is None else np.asarray(keep, bool)
        newer = chosen & (stamps > entry.last_stamp)
        same = chosen & (stamps == entry.last_stamp) & (stamps >= 0)
        if newer.any():
            entry.last[newer] = last[newer]
            entry.last_stamp[newer] = stamps[newer]
        if same.any():  # same iteration on two ranks: order independent
            entry.last[same] = np.maximum(entry.last[same], last[same])

    def update(self, img_id: str, classes: Sequence[int], attention,
               accepted: Optional[Sequence[bool]] = None, stamp: int = 0,
               meta: Optional[dict] = None,
               keep: Optional[Sequence[bool]] = None) -> MapUpdate:
        """Fuse the attention ``A_t`` of the classes ``classes`` of one image visit.

        Args:
            img_id: image id.
            classes: (K,) ground-truth classes of the image (always all of them).
            attention: (K, h, w) float in [0, 1] or already quantised maps.
            accepted: (K,) which maps passed the score condition (default: all).
            stamp: global iteration of the visit.
            meta: geometry (see :func:`sample_geometry`); kept from the first visit.

        Returns:
            the applied :class:`MapUpdate` (e.g. to send it to other ranks).
        """
        update = self.make_update(img_id, classes, attention, accepted, stamp, meta, keep)
        self.apply(update)
        return update

    def apply_updates(self, updates: Iterable) -> None:
        """Apply :class:`MapUpdate` and :class:`MapBatchUpdate` items in order."""
        for update in updates:
            if isinstance(update, MapBatchUpdate):
                self.apply_batch(update)
            else:
                self.apply(update)

    # ------------------------------------------------------------------ batched updates
    def make_batch_update(self, img_ids: Sequence[str], offsets, classes, attention,
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
        if attention.dtype != self.map_dtype:
            if np.issubdtype(attention.dtype, np.integer):
                raise TypeError(f'quantised attention must be {self.map_dtype}, got '
                                f'{attention.dtype}')
            attention = self.quantize(attention)
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

    def apply_batch(self, batch: MapBatchUpdate,
                    accept_missing: bool = False) -> MapBatchUpdate:
        """Fuse the visits of a whole batch with array operations on the slab (OAA Eqs. 4-5
        or 10); equal to applying :meth:`MapBatchUpdate.image_updates` one by one.

        Args:
            batch: the visits (e.g. from :meth:`make_batch_update`).
            accept_missing: also accept the map of every class that has no accepted map yet
                (the recorder's last-epoch fill, authors' code).

        Returns:
            the applied batch (with the final ``accepted`` flags), e.g. to send to other
            ranks, where it is applied with ``accept_missing=False``.
        """
        img_ids = batch.img_ids
        attention = batch.attention
        shape = tuple(attention.shape[1:])
        entries = [self._entries.get(img_id) for img_id in img_ids]
        if len(set(img_ids)) != len(img_ids):
            return self._apply_batch_one_by_one(batch, accept_missing)
        offsets = batch.offsets
        if None in entries:  # first visits: create the entries (and check their geometry)
            for index, entry in enumerate(entries):
                if entry is None:
                    rows = slice(int(offsets[index]), int(offsets[index + 1]))
                    entries[index] = self._new_entry(img_ids[index], batch.classes[rows],
                                                     shape, batch.metas[index])
        slab = entries[0].slab
        for index, entry in enumerate(entries):
            if entry.slab is not slab or slab.shape != shape:
                raise self._geometry_error(img_ids[index], entry.slab.shape, shape)
        sizes = np.diff(offsets)
        starts = np.fromiter((entry.start for entry in entries), np.int64, len(entries))
        stored_sizes = np.fromiter((len(entry.classes) for entry in entries), np.int64,
                                   len(entries))
        slots = np.arange(len(batch.classes), dtype=np.int64) + np.repeat(
            starts - offsets[:-1], sizes)
        wrong = (stored_sizes != sizes)
        if not wrong.any():
            mismatch = slab.slot_class[slots] != batch.classes
            if mismatch.any():
                wrong[np.searchsorted(offsets, np.flatnonzero(mismatch)[0], 'right') - 1] = True
        if wrong.any():
            index = int(np.flatnonzero(wrong)[0])
            rows = slice(int(offsets[index]), int(offsets[index + 1]))
            raise ValueError(f'image "{img_ids[index]}" was stored with classes '
                             f'{entries[index].classes.tolist()} but now comes with '
                             f'{batch.classes[rows].tolist()}; image ids must be unique and '
                             'labels fixed')
        accepted = batch.accepted
        if accept_missing:
            accepted = accepted | (slab.counts[slots] == 0)
            batch = batch._replace(accepted=accepted)
        fused = slots[accepted]
        if len(fused):
            if self.fusion == 'max':
                slab.values[fused] = np.maximum(slab.values[fused], attention[accepted])
            else:
                image_index = np.repeat(np.arange(len(img_ids)), sizes)
                busy = np.zeros(len(img_ids), bool)
                busy[image_index[accepted]] = True
                limit = self._max_average_count()
                if (slab.counts[slots[busy[image_index]]] >= limit).any():
                    full = image_index[busy[image_index] & (slab.counts[slots] >= limit)][0]
                    raise OverflowError(f'image "{img_ids[int(full)]}": more than {limit} maps '
                                        'averaged; use bits=16')
                slab.values[fused] += attention[accepted].astype(self.value_dtype)
            slab.counts[fused] += 1
        for entry in entries:
            entry.visits += 1
        if self.keep_last:
            chosen = slots if batch.keep is None else slots[batch.keep]
            maps = attention if batch.keep is None else attention[batch.keep]
            stamp = np.int64(batch.stamp)
            previous = slab.last_stamp[chosen]
            newer = stamp > previous
            if newer.any():
                slab.last[chosen[newer]] = maps[newer]
                slab.last_stamp[chosen[newer]] = stamp
            if stamp >= 0:
                same = stamp == previous
                if same.any():  # same iteration on two ranks: order independent
                    slab.last[chosen[same]] = np.maximum(slab.last[chosen[same]], maps[same])
        return batch

    def _apply_batch_one_by_one(self, batch: MapBatchUpdate,
                                accept_missing: bool) -> MapBatchUpdate:
        """Repeated ids or a new feature size: apply the images' visits in order."""
        accepted = batch.accepted.copy()
        for index, update in enumerate(batch.image_updates()):
            if accept_missing:
                entry = self._entries.get(update.img_id)
                missing = (np.ones(len(update.classes), bool) if entry is None
                           else entry.counts == 0)
                update = update._replace(accepted=update.accepted | missing)
                accepted[batch.offsets[index]:batch.offsets[index + 1]] = update.accepted
            self.apply(update)
        return batch._replace(accepted=accepted)

    def merge(self, other: 'CumulativeMapStore') -> None:
        """Add another store built from *other* visits (e.g. another rank's): maxima / sums
        and counts are combined, the later ``last`` map wins. Order independent."""
        self._check_compatible(other.fusion, other.bits, 'merge')
        for img_id, theirs in other._entries.items():
            mine = self._entry_for(img_id, theirs.classes, theirs.values.shape[1:],
                                   theirs.meta)
            if self.fusion == 'max':
                np.maximum(mine.values, theirs.values, out=mine.values)
            else:
                np.add(mine.values, theirs.values, out=mine.values)
            mine.counts += theirs.counts
            mine.visits += theirs.visits
            if self.keep_last and theirs.last is not None and (theirs.last_stamp >= 0).any():
                self._merge_last(mine, theirs.last, theirs.last_stamp,
                                 theirs.last_stamp >= 0)

    def _check_compatible(self, fusion: str, bits: int, what: str) -> None:
        if fusion != self.fusion or bits != self.bits:
            raise ValueError(f'cannot {what} a store with fusion={fusion!r}, bits={bits} into '
                             f'one with fusion={self.fusion!r}, bits={self.bits}; the '
                             'recorder settings must match the checkpoint')

    # ------------------------------------------------------------------ reading
    def classes(self, img_id: str) -> np.ndarray:
        return self._entries[img_id].classes.copy()

    def counts(self, img_id: str) -> np.ndarray:
        """Accepted maps per class (0 = the class has no cumulative map yet)."""
        return self._entries[img_id].counts.copy()

    def visits(self, img_id: str) -> int:
        return self._entries[img_id].visits

    def meta(self, img_id: str) -> dict:
        return dict(self._entries[img_id].meta)

    def cumulative_maps(self, img_id: str) -> np.ndarray:
        """float32 (K, h, w) cumulative maps ``M`` in [0, 1] (0 where no map was accepted)."""
        entry = self._entries[img_id]
        if self.fusion == 'max':
            return self.dequantize(entry.values)
        counts = np.maximum(entry.counts, 1).astype(np.float32)[:, None, None]
        return entry.values.astype(np.float32) / counts / self.quant_max

    def last_maps(self, img_id: str) -> Optional[np.ndarray]:
        """float32 (K, h, w) last attention of every class of the image (all-zero for a class
        without one), or None when no class has one."""
        entry = self._entries.get(img_id)
        if entry is None or entry.last is None or not (entry.last_stamp >= 0).any():
            return None
        maps = self.dequantize(entry.last)
        maps[entry.last_stamp < 0] = 0
        return maps

    # ------------------------------------------------------------------ state
    def state_dict(self, img_ids: Optional[Iterable[str]] = None) -> dict:
        """A copy of all data (or of ``img_ids``), as plain numpy arrays and Python types."""
        chosen = self._entries if img_ids is None else {
            i: self._entries[i] for i in img_ids if i in self._entries}
        entries = {}
        for img_id, entry in chosen.items():
            entries[img_id] = dict(
                classes=entry.classes.copy(), values=np.array(entry.values),
                counts=entry.counts.copy(),
                last=None if entry.last is None else np.array(entry.last),
                last_stamp=tuple(int(v) for v in entry.last_stamp), visits=int(entry.visits),
                meta=dict(entry.meta))
        return dict(version=STATE_VERSION, fusion=self.fusion, bits=self.bits,
                    keep_last=self.keep_last, entries=entries)

    def load_state_dict(self, state: Mapping) -> None:
        """Replace the content by a :meth:`state_dict` (of any backend)."""
        if state.get('version') != STATE_VERSION:
            raise ValueError(f'unsupported cumulative-map state version {state.get("version")}'
                             f' (expected {STATE_VERSION})')
        # checkpoints written before the fusion vocabulary was unified say 'average'
        fusion = 'mean' if state['fusion'] == 'average' else state['fusion']
        self._check_compatible(fusion, state['bits'], 'load')
        self._entries.clear()
        self._slabs.clear()
        if self._memmap_slab is not None:
            self._memmap_slab.values[...] = 0
            if self._memmap_slab.last is not None:
                self._memmap_slab.last[...] = 0
        for img_id, item in state['entries'].items():
            values = np.asarray(item['values'])
            entry = self._new_entry(img_id, np.asarray(item['classes'], np.int64),
                                    tuple(values.shape[1:]), item['meta'])
            entry.values[...] = values.astype(self.value_dtype)
            entry.counts[...] = np.asarray(item['counts'], np.uint16)
            entry.visits = int(item['visits'])
            if self.keep_last and item.get('last') is not None:
                entry.last[...] = np.asarray(item['last'], self.map_dtype)
                # older states hold one stamp per image
                entry.last_stamp[...] = np.broadcast_to(
                    np.asarray(item['last_stamp'], np.int64), entry.last_stamp.shape)

    @classmethod
    def from_state_dict(cls, state: Mapping, **kwargs) -> 'CumulativeMapStore':
        """A memory store holding ``state`` (settings taken from it)."""
        store = cls(fusion=state['fusion'], bits=state['bits'],
                    keep_last=state.get('keep_last', False), **kwargs)
        store.load_state_dict(state)
        return store

    def equals(self, other: 'CumulativeMapStore', tolerance: int = 0) -> bool:
        """Same images, classes, counts and fused values (within ``tolerance`` steps)."""
        if set(self._entries) != set(other._entries):
            return False
        for img_id, mine in self._entries.items():
            theirs = other._entries[img_id]
            if not np.array_equal(mine.classes, theirs.classes) or \
                    not np.array_equal(mine.counts, theirs.counts) or \
                    mine.values.shape != theirs.values.shape:
                return False
            diff = np.abs(mine.values.astype(np.int64) - theirs.values.astype(np.int64))
            if diff.size and diff.max() > tolerance * max(1, int(mine.counts.max())):
                return False
        return True

    # ------------------------------------------------------------------ export
    def stored_uint8(self, img_id: str) -> np.ndarray:
        """uint8 (K, h, w) cumulative maps at feature resolution, ``round(M * 255)`` (what the
        authors' code writes as PNG files; the 8-bit max-fusion store holds exactly this)."""
        if self.fusion == 'max' and self.bits == 8:
            return np.array(self._entries[img_id].values, dtype=np.uint8)
        return np.rint(self.cumulative_maps(img_id) * 255).astype(np.uint8)

    def export_image_authors(self, img_id: str,
                             normalize: bool = True) -> Tuple[np.ndarray, np.ndarray]:
        """The authors' export (``res.py``): the stored uint8 map at feature resolution is
        resized **once** to the original image size, bicubic on uint8 (OpenCV, which
        saturates the overshoot at 0 and 255), then min-max normalised per class.

        Only for a fixed geometry without flip / crop (the authors' training pipeline).
        """
        import cv2
        entry = self._entries[img_id]
        meta = entry.meta
        if meta.get('flip') or meta.get('crop_bbox') is not None:
            raise ValueError(f'image "{img_id}": the authors\' export resizes the feature map '
                             'straight to the original size; it cannot undo a flip or crop '
                             "(use export_mode='toolbox')")
        height, width = (int(v) for v in meta['ori_shape'][:2])
        stored = self.stored_uint8(img_id)
        maps = np.zeros((len(stored), height, width), np.float32)
        for index, cell_map in enumerate(stored):
            resized = cv2.resize(cell_map, (width, height), interpolation=cv2.INTER_CUBIC)
            maps[index] = resized.astype(np.float32) / 255
        maps = torch.from_numpy(maps)
        if normalize and maps.shape[0]:
            maps = normalize_maps(maps, 'minmax', eps=1e-12)
        return entry.classes.copy(), maps.clamp(0, 1).numpy().astype(np.float32)

    def export_image(self, img_id: str, interpolation: str = 'bicubic',
                     normalize: bool = True,
                     mode: str = 'toolbox') -> Tuple[np.ndarray, np.ndarray]:
        """The cumulative maps of one image at its original size.

        ``mode='authors'``: :meth:`export_image_authors` (``interpolation`` is ignored).
        ``mode='toolbox'`` (default):

        Steps (the toolbox's reading: Sec. 3.2 does not say how the cumulative maps are
        brought to image size, so bicubic upsampling and min-max are our choice; the
        authors' ``res.py`` differs, see :meth:`export_image_authors`): upsample the feature-
        resolution maps to the network input (``interpolation``, bicubic by default), undo the
        recorded geometry (:func:`restore_geometry`: flip, crop, resize to ``ori_shape``),
        clip the interpolation's negative overshoot to 0 and min-max normalise every class
        map to [0, 1] (after clipping, so the zeros of ``M`` stay zeros).

        Returns:
            ``(classes int64 (K,), maps float32 (K, H, W))``.
        """
        if mode == 'authors':
            return self.export_image_authors(img_id, normalize)
        if mode != 'toolbox':
            raise ValueError(f"export mode must be 'toolbox' or 'authors', got {mode!r}")
        from wsss_toolbox.datasets.transforms import restore_geometry
        entry = self._entries[img_id]
        meta = entry.meta
        maps = torch.from_numpy(self.cumulative_maps(img_id))
        maps = feature_maps_to_image(maps, meta['feature_stride'], meta['img_shape'],
                                     mode=interpolation)
        maps = restore_geometry(maps, meta, mode=interpolation).clamp(min=0)
        if normalize and maps.shape[0]:
            # per class to [0, 1]; a constant map becomes all zeros
            maps = normalize_maps(maps, 'minmax', eps=1e-12)
        return entry.classes.copy(), maps.clamp(0, 1).numpy().astype(np.float32)

    def export(self, map_dir: str, img_ids: Optional[Sequence[str]] = None, rank: int = 0,
               world_size: int = 1, interpolation: str = 'bicubic',
               normalize: bool = True, mode: str = 'toolbox',
               raw_dir: Optional[str] = None) -> int:
        """Write every image's maps as a stage-2 map file ``<map_dir>/<img_id>.npz``
        (:func:`wsss_toolbox.maps.save_maps`; original image size, values in [0, 1]).

        Classes without any accepted map are written as all-zero maps (one warning).

        Args:
            map_dir: output folder.
            img_ids: images to export (default: all, in insertion order).
            rank, world_size: export ``img_ids[rank::world_size]`` (ranks share the work).
            interpolation, normalize, mode: see :meth:`export_image`.
            raw_dir: also write the stored uint8 maps at feature resolution there
                (:func:`save_stored_maps`, the integral attention model's targets in the
                authors' code).

        Returns:
            number of files written by this call.
        """
        ids = list(self._entries) if img_ids is None else list(img_ids)
        missing = []
        written = 0
        for img_id in ids[rank::world_size]:
            classes, maps = self.export_image(img_id, interpolation, normalize, mode)
            if not self._entries[img_id].counts.all():
                missing.append(img_id)
            save_maps(map_path(map_dir, img_id), img_id, classes, maps)
            if raw_dir is not None:
                save_stored_maps(map_path(raw_dir, img_id), img_id, classes,
                                 self.stored_uint8(img_id))
            written += 1
        if missing:
            warnings.warn(f'{len(missing)} image(s) have classes without any accepted '
                          f'attention map (exported as zeros), e.g. {missing[:3]}',
                          stacklevel=2)
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
