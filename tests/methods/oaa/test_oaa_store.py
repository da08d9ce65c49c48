"""CumulativeMapStore: fusion rules (OAA Eqs. 5, 10), quantisation, backends, state, merge,
export geometry."""
import os
import os.path as osp

import numpy as np
import pytest
import torch

from wsss_toolbox.engine import load_local_checkpoint
from wsss_toolbox.maps import load_maps
from wsss_toolbox.methods.oaa.store import CumulativeMapStore

META = dict(ori_shape=(2, 2), img_shape=(2, 2), feature_stride=(1.0, 1.0))
A1 = np.array([[0.2, 0.8], [0.0, 0.4]], np.float32)
A2 = np.array([[0.6, 0.1], [0.3, 0.4]], np.float32)
A3 = np.array([[1.0, 1.0], [1.0, 1.0]], np.float32)


def test_max_fusion_eq5_and_score_condition_discard():
    store = CumulativeMapStore(fusion='max', bits=8)
    store.update('img', [4], A1[None], accepted=[True], meta=META)
    store.update('img', [4], A2[None], accepted=[True], meta=META)
    expected = np.round(np.maximum(A1, A2) * 255) / 255  # M_2 = max(M_1, A_2)
    np.testing.assert_allclose(store.cumulative_maps('img')[0], expected, atol=1e-6)
    # a map that fails the score condition is discarded but the visit is counted
    store.update('img', [4], A3[None], accepted=[False], meta=META)
    np.testing.assert_allclose(store.cumulative_maps('img')[0], expected, atol=1e-6)
    assert store.counts('img').tolist() == [2] and store.visits('img') == 3


def test_average_fusion_eq10_keeps_counts():
    store = CumulativeMapStore(fusion='mean', bits=16)
    reference = None
    for t, attention in enumerate([A1, A2, A3], start=1):
        store.update('img', [0], attention[None], accepted=[True], meta=META)
        # Eq. 10: M_t = ((t - 1) M_{t-1} + A_t) / t
        reference = attention if reference is None else ((t - 1) * reference + attention) / t
    np.testing.assert_allclose(store.cumulative_maps('img')[0], reference, atol=1 / 65535)
    assert store.counts('img').tolist() == [3]
    store.update('img', [0], np.zeros((1, 2, 2)), accepted=[False], meta=META)
    np.testing.assert_allclose(store.cumulative_maps('img')[0], reference, atol=1 / 65535)


def test_first_accepted_map_initialises_and_classes_are_independent():
    store = CumulativeMapStore(fusion='mean', bits=8)
    # classes given in any order are stored sorted; class 7 fails, class 2 passes
    store.update('img', [7, 2], np.stack([A3, A1]), accepted=[False, True], meta=META)
    assert store.classes('img').tolist() == [2, 7]
    assert store.counts('img').tolist() == [1, 0]
    maps = store.cumulative_maps('img')
    np.testing.assert_allclose(maps[0], np.round(A1 * 255) / 255, atol=1e-6)
    assert not maps[1].any()  # no accepted map yet
    store.update('img', [2, 7], np.stack([A2, A2]), accepted=[True, True], meta=META)
    np.testing.assert_allclose(store.cumulative_maps('img')[1], np.round(A2 * 255) / 255,
                               atol=1e-6)  # initialised by its first accepted map


def test_geometry_and_label_changes_are_rejected():
    store = CumulativeMapStore()
    store.update('img', [1], A1[None], meta=META)
    with pytest.raises(ValueError, match='same geometry'):
        store.update('img', [1], np.zeros((1, 3, 2)), meta=META)
    with pytest.raises(ValueError, match='classes'):
        store.update('img', [2], A1[None], meta=META)


@pytest.mark.parametrize('bits', [8, 16])
def test_quantisation_round_trip(bits):
    store = CumulativeMapStore(bits=bits)
    values = np.random.default_rng(0).random(1000).astype(np.float32)
    quantised = store.quantize(values)
    assert quantised.dtype == (np.uint8 if bits == 8 else np.uint16)
    assert np.abs(store.dequantize(quantised) - values).max() <= 0.5 / (2**bits - 1) + 1e-7
    assert store.quantize([0.0, 1.0, 1.5, -1.0]).tolist() == [0, 2**bits - 1, 2**bits - 1, 0]


def _random_updates(store, seed=0, images=5, visits=4, shape=(3, 4)):
    rng = np.random.default_rng(seed)
    updates = []
    labels = {f'im{i}': sorted(rng.choice(6, size=1 + i % 3, replace=False).tolist())
              for i in range(images)}
    stamp = 0
    for _ in range(visits):
        for img_id, classes in labels.items():
            attention = rng.random((len(classes), ) + shape)
            accepted = rng.random(len(classes)) < 0.7
            updates.append(store.make_update(img_id, classes, attention, accepted, stamp,
                                             dict(META, img_shape=(6, 8), ori_shape=(12, 16),
                                                  feature_stride=(2.0, 2.0))))
            stamp += 1
    return labels, updates


def _states_equal(a, b):
    assert a['entries'].keys() == b['entries'].keys()
    for img_id in a['entries']:
        x, y = a['entries'][img_id], b['entries'][img_id]
        for key in ('classes', 'values', 'counts', 'last'):
            if x[key] is None:
                assert y[key] is None
            else:
                np.testing.assert_array_equal(x[key], y[key], err_msg=f'{img_id} {key}')
        assert (x['last_stamp'], x['visits'], x['meta']) == (y['last_stamp'], y['visits'],
                                                            y['meta'])


@pytest.mark.parametrize('fusion', ['max', 'mean'])
def test_memmap_backend_equals_memory_backend(tmp_path, fusion):
    memory = CumulativeMapStore(fusion=fusion, keep_last=True)
    labels, updates = _random_updates(memory)
    memmap = CumulativeMapStore(fusion=fusion, keep_last=True, backend='memmap',
                                memmap_dir=str(tmp_path / 'mm'))
    memmap.reserve(labels)
    memory.apply_updates(updates)
    memmap.apply_updates(updates)
    _states_equal(memory.state_dict(), memmap.state_dict())
    assert osp.isfile(tmp_path / 'mm' / 'cumulative.mmap')
    assert memmap.nbytes == memory.nbytes
    with pytest.raises(KeyError, match='reserve'):
        memmap.update('unknown', [0], A1[None], meta=META)


def test_state_dict_round_trip_through_a_checkpoint_file(tmp_path):
    store = CumulativeMapStore(fusion='mean', keep_last=True)
    _, updates = _random_updates(store)
    store.apply_updates(updates)
    path = str(tmp_path / 'ckpt.pth')
    torch.save({'wsss_cumulative_maps': store.state_dict()}, path)
    # the toolbox's weights_only checkpoint loader (used by --resume) accepts the state
    state = load_local_checkpoint(path)['wsss_cumulative_maps']
    restored = CumulativeMapStore.from_state_dict(state)
    _states_equal(store.state_dict(), restored.state_dict())
    into_memmap = CumulativeMapStore(fusion='mean', keep_last=True, backend='memmap',
                                     memmap_dir=str(tmp_path / 'mm'))
    into_memmap.reserve({i: store.classes(i) for i in store.img_ids()})
    into_memmap.load_state_dict(state)
    _states_equal(store.state_dict(), into_memmap.state_dict())
    with pytest.raises(ValueError, match='fusion'):
        CumulativeMapStore(fusion='max').load_state_dict(state)


@pytest.mark.parametrize('fusion', ['max', 'mean'])
def test_merge_and_update_order_do_not_matter(fusion):
    reference = CumulativeMapStore(fusion=fusion, keep_last=True)
    _, updates = _random_updates(reference, seed=3)
    reference.apply_updates(updates)
    rng = np.random.default_rng(1)
    # shuffled application order
    shuffled = CumulativeMapStore(fusion=fusion, keep_last=True)
    shuffled.apply_updates([updates[i] for i in rng.permutation(len(updates))])
    _states_equal(reference.state_dict(), shuffled.state_dict())
    # two "ranks" with a random split of the visits, merged both ways
    owner = rng.random(len(updates)) < 0.5
    parts = []
    for side in (True, False):
        part = CumulativeMapStore(fusion=fusion, keep_last=True)
        part.apply_updates([u for u, o in zip(updates, owner) if o == side])
        parts.append(part)
    for first, second in ((0, 1), (1, 0)):
        merged = CumulativeMapStore(fusion=fusion, keep_last=True)
        merged.merge(parts[first])
        merged.merge(parts[second])
        _states_equal(reference.state_dict(), merged.state_dict())


def test_last_map_is_the_latest_visit_not_the_cumulative_map():
    store = CumulativeMapStore(keep_last=True)
    store.update('img', [0], A1[None], accepted=[True], stamp=5, meta=META)
    store.update('img', [0], A2[None], accepted=[False], stamp=9, meta=META)
    np.testing.assert_allclose(store.last_maps('img')[0], np.round(A2 * 255) / 255, atol=1e-6)
    store.update('img', [0], A3[None], accepted=[True], stamp=7, meta=META)  # older visit
    np.testing.assert_allclose(store.last_maps('img')[0], np.round(A2 * 255) / 255, atol=1e-6)
    assert CumulativeMapStore().last_maps('img') is None


def test_export_geometry_scale_and_flip(tmp_path):
    """2x2 feature cells of stride 4 cover an 8x8 input, resized by 0.5 from a 16x16 image."""
    store = CumulativeMapStore()
    corner = np.array([[1.0, 0.0], [0.0, 0.0]], np.float32)
    meta = dict(ori_shape=(16, 16), img_shape=(8, 8), scale_factor=(0.5, 0.5),
                feature_stride=(4.0, 4.0))
    store.update('plain', [3], corner[None], meta=meta)
    store.update('flipped', [3], corner[None], meta=dict(meta, flip=True,
                                                         flip_direction='horizontal'))
    # nearest interpolation makes the expected map exact: each cell = an 8x8 block
    classes, maps = store.export_image('plain', interpolation='nearest')
    expected = np.zeros((16, 16), np.float32)
    expected[:8, :8] = 1
    assert classes.tolist() == [3]
    np.testing.assert_array_equal(maps[0], expected)
    _, flipped = store.export_image('flipped', interpolation='nearest')
    np.testing.assert_array_equal(flipped[0], expected[:, ::-1])
    # bicubic (default): original size, [0, 1], peak 1 in the cell's block, zeros far away
    written = store.export(str(tmp_path / 'maps'))
    assert written == 2 and sorted(os.listdir(tmp_path / 'maps')) == ['flipped.npz',
                                                                      'plain.npz']
    record = load_maps(str(tmp_path / 'maps' / 'plain.npz'))
    assert record['classes'].tolist() == [3] and record['maps'].shape == (1, 16, 16)
    assert record['maps'].min() >= 0 and record['maps'].max() == pytest.approx(1, abs=1e-3)
    assert record['maps'][0, :8, :8].mean() > 0.5 and record['maps'][0, 12:, 12:].max() < 0.05


def test_export_writes_zero_maps_for_classes_without_accepted_map(tmp_path):
    store = CumulativeMapStore()
    store.update('img', [0, 1], np.stack([A1, A2]), accepted=[True, False], meta=META)
    with pytest.warns(UserWarning, match='without any accepted'):
        store.export(str(tmp_path))
    record = load_maps(str(tmp_path / 'img.npz'))
    assert record['maps'][1].max() == 0 and record['maps'][0].max() == pytest.approx(1, 1e-3)


def test_sizes():
    assert CumulativeMapStore(bits=8).bytes_per_map(28, 28) == 28 * 28 + 2
    assert CumulativeMapStore(bits=16).bytes_per_map(28, 28) == 2 * 28 * 28 + 2
    assert CumulativeMapStore(bits=8, keep_last=True).bytes_per_map(28, 28) == 2 * 784 + 2
    assert CumulativeMapStore(fusion='mean', bits=8).bytes_per_map(28, 28) == 2 * 784 + 2
