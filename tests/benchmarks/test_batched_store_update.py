"""The store's one update path (``apply_batch``; the recorder sends one ``MapBatchUpdate`` per
training batch) gives the store of the per-image reference update
(``tests/methods/oaa/store_reference.py``), for every option of the recorder and the store."""
import itertools

import numpy as np
import pytest
import torch
from methods.oaa.store_reference import use_reference

from wsss_toolbox.methods.oaa.hooks import CumulativeMapRecorderHook
from wsss_toolbox.methods.oaa.store import CumulativeMapStore, MapBatchUpdate
from wsss_toolbox.structures import WSSSDataSample

NUM_CLASSES = 5
IDS = [f'im{i}' for i in range(7)]


def _labels(rng):
    """Fixed labels per image; one image has no class at all."""
    labels = {}
    for index, img_id in enumerate(IDS):
        label = np.zeros(NUM_CLASSES, np.float32)
        if index:
            label[rng.choice(NUM_CLASSES, size=1 + index % 3, replace=False)] = 1
        labels[img_id] = label
    return labels


def _batches(rng, labels, epochs, img_shape=(20, 28), pad=(24, 32), duplicates=False,
             mixed=False):
    """Per epoch, batches of 3 images (padded input, random maps and logits)."""
    plan = []
    for epoch in range(epochs):
        order = rng.permutation(IDS).tolist()
        if duplicates and epoch == 1:
            order[1] = order[0]  # the same image twice in one batch
        for start in range(0, len(order), 3):
            ids = order[start:start + 3]
            samples = []
            for position, img_id in enumerate(ids):
                shape = (img_shape[0] - 8, img_shape[1]) if mixed and position == 1 and \
                    img_id == 'im1' else img_shape
                sample = WSSSDataSample(metainfo=dict(img_id=img_id, img_shape=shape,
                                                      ori_shape=(2 * shape[0], 2 * shape[1])))
                sample.gt_label = torch.from_numpy(labels[img_id])
                samples.append(sample)
            maps = torch.from_numpy(rng.normal(size=(len(ids), NUM_CLASSES, pad[0] // 4,
                                                     pad[1] // 4)).astype(np.float32))
            maps[0, :, 0, 0] = -1  # some maps with a tiny or negative maximum
            maps[-1, 0] = 1e-6 * maps[-1, 0]
            logits = torch.from_numpy(rng.normal(size=(len(ids), NUM_CLASSES)).astype(
                np.float32))
            plan.append((epoch, dict(cams=maps, logits=logits, data_samples=samples,
                                     batch_input_shape=pad)))
    return plan


def _run(hook, plan, epochs):
    updates = []
    for stamp, (epoch, recorded) in enumerate(plan):
        updates.extend(hook.record(recorded, stamp=stamp, epoch=epoch, max_epochs=epochs))
    return updates


def _assert_same_state(a, b):
    assert a['entries'].keys() == b['entries'].keys()
    for img_id in a['entries']:
        x, y = a['entries'][img_id], b['entries'][img_id]
        for key in ('classes', 'values', 'counts', 'last'):
            if x[key] is None:
                assert y[key] is None, (img_id, key)
            else:
                np.testing.assert_array_equal(x[key], y[key], err_msg=f'{img_id} {key}')
        assert (x['last_stamp'], x['visits'], x['meta']) == (y['last_stamp'], y['visits'],
                                                            y['meta']), img_id


def _hook(tmp_path, name, batched, labels, bits=8, keep_last=False, backend='memory',
          **options):
    """``batched=False``: the recorder's per-image path into a store that updates through the
    per-image reference."""
    store = dict(batched=batched, memmap_dir=str(tmp_path / name), bits=bits,
                 keep_last=keep_last, backend=backend)
    hook = CumulativeMapRecorderHook(export=dict(dir=None), store=store, **options)
    hook._image_classes = {i: np.flatnonzero(label) for i, label in labels.items()}
    if not batched:
        use_reference(hook.store)
    return hook


OPTIONS = list(itertools.product(
    [8, 16],                                  # bits
    [False, True],                            # skip_first_epoch
    [False, True],                            # fill_missing_in_last_epoch
    [(False, 'visit'), (True, 'visit'), (True, 'stored')],  # keep_last, last_maps
    ['clamp', 'add_eps'],                     # attention_normalization
    ['memory', 'memmap']))                    # backend


@pytest.mark.parametrize('fusion', ['max', 'mean'])
@pytest.mark.parametrize('score_rule', ['paper', 'topk', 'topk_sigmoid', 'always'])
def test_batched_record_equals_per_image_record(tmp_path, fusion, score_rule):
    epochs = 3
    # every (fusion, score rule) runs a quarter of the other options' combinations, a
    # different quarter for each, so that every combination runs twice in all
    share = (['max', 'mean'].index(fusion) + 2 * ['paper', 'topk', 'topk_sigmoid',
                                                  'always'].index(score_rule)) % 4
    for case, (bits, skip, fill, (keep_last, last_maps), norm, backend) in enumerate(OPTIONS):
        if case % 4 != share:
            continue
        rng = np.random.default_rng(case)
        labels = _labels(rng)
        plan = _batches(rng, labels, epochs)
        options = dict(fusion=fusion, score_rule=score_rule, bits=bits, skip_first_epoch=skip,
                       fill_missing_in_last_epoch=fill, keep_last=keep_last,
                       last_maps=last_maps, attention_normalization=norm, backend=backend)
        batched = _hook(tmp_path, f'b{case}', True, labels, **options)
        reference = _hook(tmp_path, f'r{case}', False, labels, **options)
        sent = _run(batched, plan, epochs)
        _run(reference, plan, epochs)
        assert all(isinstance(update, MapBatchUpdate) for update in sent)
        _assert_same_state(batched.store.state_dict(), reference.store.state_dict())
        # the updates sent to other ranks rebuild the same store (fill decided by the sender)
        other = CumulativeMapStore(fusion=fusion, bits=bits, keep_last=keep_last)
        other.apply_updates(sent)
        _assert_same_state(other.state_dict(), reference.store.state_dict())


@pytest.mark.parametrize('duplicates,mixed', [(True, False), (False, True)])
def test_repeated_images_and_mixed_sizes_fall_back_to_the_same_store(tmp_path, duplicates,
                                                                      mixed):
    rng = np.random.default_rng(5)
    labels = _labels(rng)
    plan = _batches(rng, labels, 3, duplicates=duplicates, mixed=mixed)
    options = dict(fusion='mean', bits=16, keep_last=True, fill_missing_in_last_epoch=True)
    batched = _hook(tmp_path, 'b', True, labels, **options)
    reference = _hook(tmp_path, 'r', False, labels, **options)
    if mixed:  # im1's feature size changes: both paths refuse it alike
        with pytest.raises(ValueError, match='same geometry') as batched_error:
            _run(batched, plan, 3)
        with pytest.raises(ValueError, match='same geometry') as reference_error:
            _run(reference, plan, 3)
        assert 'im1' in str(batched_error.value) and 'im1' in str(reference_error.value)
        return
    _run(batched, plan, 3)
    _run(reference, plan, 3)
    _assert_same_state(batched.store.state_dict(), reference.store.state_dict())


def test_batch_update_equals_its_image_updates_and_checks_labels():
    rng = np.random.default_rng(0)
    store = CumulativeMapStore(fusion='max', keep_last=True)
    reference = CumulativeMapStore(fusion='max', keep_last=True)
    meta = dict(img_shape=(8, 8), ori_shape=(8, 8), feature_stride=(2.0, 2.0))
    for stamp in range(4):
        batch = store.make_batch_update(
            ['a', 'b', 'c'], [0, 2, 2, 3], [1, 4, 0], rng.random((3, 4, 4)),
            accepted=rng.random(3) < 0.6, stamp=stamp, metas=[meta] * 3)
        store.apply_batch(batch)
        use_reference(reference).apply_updates(batch.image_updates())
    _assert_same_state(store.state_dict(), reference.state_dict())
    assert store.visits('b') == 4 and store.classes('b').size == 0
    with pytest.raises(ValueError, match='"a" was stored with classes'):
        store.apply_batch(store.make_batch_update(['c', 'a'], [0, 1, 3], [0, 1, 3],
                                                  np.zeros((3, 4, 4))))
    with pytest.raises(ValueError, match='same geometry'):
        store.apply_batch(store.make_batch_update(['a'], [0, 2], [1, 4], np.zeros((2, 3, 4))))
    with pytest.raises(ValueError, match='ascending'):
        store.make_batch_update(['a'], [0, 2], [4, 1], np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match='offsets'):
        store.make_batch_update(['a'], [0, 1], [4, 1], np.zeros((2, 4, 4)))


@pytest.mark.parametrize('fusion,bits', [('max', 8), ('mean', 8), ('mean', 16)])
def test_single_and_repeated_image_updates_equal_the_reference(fusion, bits):
    """``apply`` (a batch of one image) and a batch naming an image twice, with the last-epoch
    fill, give the reference's store and the same final accept flags."""
    rng = np.random.default_rng(3)
    store = CumulativeMapStore(fusion=fusion, bits=bits, keep_last=True)
    reference = use_reference(CumulativeMapStore(fusion=fusion, bits=bits, keep_last=True))
    meta = dict(img_shape=(8, 8), ori_shape=(8, 8), feature_stride=(2.0, 2.0))
    for stamp in range(6):
        keep = rng.random(2) < 0.5
        update = store.make_update('a', [3, 1], rng.random((2, 4, 4)),
                                   accepted=rng.random(2) < 0.5, stamp=stamp % 4, meta=meta,
                                   keep=keep)
        store.apply(update)
        reference.apply(update)
        batch = store.make_batch_update(['b', 'a', 'b'], [0, 1, 3, 4], [2, 1, 3, 2],
                                        rng.random((4, 4, 4)), accepted=rng.random(4) < 0.3,
                                        stamp=stamp, metas=[meta] * 3)
        mine = store.apply_batch(batch, accept_missing=stamp == 5)
        theirs = reference.apply_batch(batch, accept_missing=stamp == 5)
        np.testing.assert_array_equal(mine.accepted, theirs.accepted)
    _assert_same_state(store.state_dict(), reference.state_dict())
    assert store.visits('b') == 12 and store.counts('b').all()
