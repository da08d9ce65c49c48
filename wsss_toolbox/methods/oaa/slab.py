"""Storage of the cumulative-map store: slabs of (image, class) slots and per-image entries.

A :class:`_Slab` holds the maps of many slots of one feature size in a few arrays (in memory,
growing by doubling, or ``numpy.memmap`` files); an :class:`_Entry` is one image's consecutive
slots of a slab. Private to :mod:`.store`.
"""
from typing import Optional

import numpy as np


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

