"""The per-image reference of the cumulative-map store's update (OAA Eqs. 4-5 and 10).

The store has one update path, :meth:`CumulativeMapStore.apply_batch` (array operations on
the slot arrays; :meth:`~CumulativeMapStore.apply` is a batch of one image). This module keeps
the straightforward per-image update it replaced -- one image, one visit, a loop over nothing
but that image's classes -- so the tests can check that the batched path builds the same
store. Not used by the toolbox.
"""
import types

import numpy as np

from wsss_toolbox.methods.oaa.store import CumulativeMapStore, MapBatchUpdate, MapUpdate


def reference_apply(store: CumulativeMapStore, update: MapUpdate) -> None:
    """Fuse one visit into ``store`` image by image (the per-image update of earlier
    versions): max (Eq. 5) or sum-and-count (Eq. 10) of the accepted classes, one more
    visit, and the later ``last`` map per kept class (ties: element-wise maximum)."""
    attention = update.attention
    entry = store._entry_for(update.img_id, update.classes, attention.shape[1:], update.meta)
    accepted = np.asarray(update.accepted, bool)
    if accepted.any():
        if store.fusion == 'max':
            entry.values[accepted] = np.maximum(entry.values[accepted], attention[accepted])
        else:
            if int(entry.counts.max(initial=0)) >= store._max_average_count():
                raise OverflowError(f'image "{update.img_id}": more than '
                                    f'{store._max_average_count()} maps averaged; use bits=16')
            entry.values[accepted] += attention[accepted].astype(store.value_dtype)
        entry.counts[accepted] += 1
    entry.visits += 1
    if store.keep_last:
        store._merge_last(entry, attention, update.stamp, getattr(update, 'keep', None))


def reference_apply_batch(store: CumulativeMapStore, batch: MapBatchUpdate,
                          accept_missing: bool = False) -> MapBatchUpdate:
    """A batch as its images' visits in order, each by :func:`reference_apply`
    (``accept_missing``: also accept every class without an accepted map yet)."""
    accepted = batch.accepted.copy()
    for index, update in enumerate(batch.image_updates()):
        if accept_missing:
            entry = store._entries.get(update.img_id)
            missing = (np.ones(len(update.classes), bool) if entry is None
                       else entry.counts == 0)
            update = update._replace(accepted=update.accepted | missing)
            accepted[batch.offsets[index]:batch.offsets[index + 1]] = update.accepted
        reference_apply(store, update)
    return batch._replace(accepted=accepted)


def use_reference(store: CumulativeMapStore) -> CumulativeMapStore:
    """Make ``store`` update through the reference (its ``apply`` and ``apply_batch``)."""
    store.apply = types.MethodType(reference_apply, store)
    store.apply_batch = types.MethodType(reference_apply_batch, store)
    return store
