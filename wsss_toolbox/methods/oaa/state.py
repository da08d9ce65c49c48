"""State of the cumulative-map store: merging, ``state_dict`` round trips and comparison.

A mixin of :class:`~wsss_toolbox.methods.oaa.store.CumulativeMapStore` (it uses the store's
entries); kept apart so that the store module holds the update path.
"""
from typing import TYPE_CHECKING, Iterable, Mapping, Optional

import numpy as np

from .slab import _Entry

if TYPE_CHECKING:  # pragma: no cover
    from .store import CumulativeMapStore

STATE_VERSION = 1


class _StoreState:
    """``merge``, ``state_dict``, ``load_state_dict``, ``from_state_dict`` and ``equals`` of
    :class:`~wsss_toolbox.methods.oaa.store.CumulativeMapStore`."""

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

