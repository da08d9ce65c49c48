"""The cumulative attention-map store of OAA (Jiang et al., TPAMI; Sec. 3.2-3.3).

(Over 400 lines: the store class keeps its entries, its one update path and its reading
methods together, since they share the slot layout; records, slabs, state and export live in
their own modules.)

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

Updates: :meth:`CumulativeMapStore.apply_batch` is the store's one update path. It fuses the
visits of a whole training batch (:class:`MapBatchUpdate`, every map of the batch in one
``(M, h, w)`` array) with a few array operations on the slab, indexed by the maps' slots: no
Python work per map. :meth:`~CumulativeMapStore.apply` (one image's :class:`MapUpdate`) is a
batch of one image; a batch that names an image twice is applied one image after the other.
The tests compare it with a per-image reference (``tests/methods/oaa/store_reference.py``).

Related modules: :mod:`.updates` (the update records), :mod:`.slab` (the slot arrays),
:mod:`.export` (export modes and map files).
"""
import os
import os.path as osp
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .export import (
    EXPORT_MODES,
    export_image,
    export_image_authors,
    export_store,
    feature_maps_to_image,
    load_stored_maps,
    save_stored_maps,
)
from .slab import _Entry, _Slab
from .state import STATE_VERSION, _StoreState
from .updates import (
    GEOMETRY_KEYS,
    MapBatchUpdate,
    MapUpdate,
    as_batch,
    build_batch_update,
    build_update,
    sample_geometry,
)

__all__ = ['CumulativeMapStore', 'MapUpdate', 'MapBatchUpdate', 'sample_geometry',
           'feature_maps_to_image', 'save_stored_maps', 'load_stored_maps', 'GEOMETRY_KEYS',
           'EXPORT_MODES', 'STATE_VERSION', 'export_image', 'export_image_authors', 'export_store']

FUSIONS = ('max', 'mean')
MAP_DTYPES = {8: np.uint8, 16: np.uint16}
# average fusion stores sums of quantised maps: room for at least 257 accepted maps
SUM_DTYPES = {8: np.uint16, 16: np.uint32}


class CumulativeMapStore(_StoreState):
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
        """Build a :class:`MapUpdate`; float ``attention`` in [0, 1] is quantised
        (:func:`.updates.build_update`)."""
        return build_update(self.map_dtype, self.quantize, img_id, classes, attention,
                            accepted, stamp, meta, keep)

    def apply(self, update: MapUpdate) -> None:
        """Fuse one visit into the store (OAA Eqs. 4-5 or 10 for the accepted classes): a
        :meth:`apply_batch` of one image."""
        self.apply_batch(as_batch(update))

    def _max_average_count(self) -> int:
        return int(np.iinfo(self.value_dtype).max // self.quant_max)

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
        check its layout (:func:`.updates.build_batch_update`)."""
        return build_batch_update(self.map_dtype, self.quantize, img_ids, offsets, classes,
                                  attention, accepted, stamp, metas, keep)

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
        """A batch that names an image twice: apply its images in order, each as a batch of
        one image, so that a repeated image sees its earlier visit."""
        accepted = batch.accepted.copy()
        for index, update in enumerate(batch.image_updates()):
            applied = self.apply_batch(as_batch(update), accept_missing)
            accepted[batch.offsets[index]:batch.offsets[index + 1]] = applied.accepted
        return batch._replace(accepted=accepted)

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

    # ------------------------------------------------------------------ export
    def stored_uint8(self, img_id: str) -> np.ndarray:
        """uint8 (K, h, w) cumulative maps at feature resolution, ``round(M * 255)`` (what the
        authors' code writes as PNG files; the 8-bit max-fusion store holds exactly this)."""
        if self.fusion == 'max' and self.bits == 8:
            return np.array(self._entries[img_id].values, dtype=np.uint8)
        return np.rint(self.cumulative_maps(img_id) * 255).astype(np.uint8)

    def export_image_authors(self, img_id: str,
                             normalize: bool = True) -> Tuple[np.ndarray, np.ndarray]:
        """The authors' export of one image (:func:`.export.export_image_authors`)."""
        return export_image_authors(self, img_id, normalize)

    def export_image(self, img_id: str, interpolation: str = 'bicubic',
                     normalize: bool = True,
                     mode: str = 'toolbox') -> Tuple[np.ndarray, np.ndarray]:
        """The cumulative maps of one image at its original size, ``(classes, maps)``
        (:func:`.export.export_image`; ``mode``: one of :data:`EXPORT_MODES`)."""
        return export_image(self, img_id, interpolation, normalize, mode)

    def export(self, map_dir: str, img_ids: Optional[Sequence[str]] = None, rank: int = 0,
               world_size: int = 1, interpolation: str = 'bicubic',
               normalize: bool = True, mode: str = 'toolbox',
               raw_dir: Optional[str] = None) -> int:
        """Write the stage-2 map files (and the raw uint8 maps to ``raw_dir``); return how
        many this rank wrote (:func:`.export.export_store`)."""
        return export_store(self, map_dir, img_ids, rank, world_size, interpolation,
                            normalize, mode, raw_dir)
