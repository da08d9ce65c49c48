"""The random walk's sparse transition matrix (methods/irn/sparse_walk.py) against the dense
one, and the sparse steps (the default) against the authors' dense squaring."""
import inspect

import numpy as np
import pytest
import torch

from wsss_toolbox.methods.irn import random_walk as rw
from wsss_toolbox.methods.irn.inference import refine_sample
from wsss_toolbox.methods.irn.sparse_walk import disc_offsets, sparse_transition

from .test_irn_authors_rules import authors_propagate


def walled_boundary(height, width, seed):
    """Random low boundary probabilities with a vertical and a horizontal wall (0.97)."""
    generator = torch.Generator().manual_seed(seed)
    boundary = torch.rand(height, width, generator=generator) * 0.4
    boundary[:, width // 2] = 0.97
    boundary[height // 3, :width // 2] = 0.97
    return boundary


@pytest.mark.parametrize('height,width,radius,path', [
    (6, 7, 3, 'band'), (9, 4, 5, 'line'), (3, 12, 5, 'band'), (10, 10, 2, 'line'),
    (1, 1, 5, 'band'), (2, 9, 5, 'band')])
def test_sparse_transition_equals_the_dense_matrix(height, width, radius, path):
    boundary = torch.rand(height, width, generator=torch.Generator().manual_seed(0)) * 0.7
    boundary[0, 0] = 1.0                                   # an affinity of exactly 0
    dense = rw.transition_matrix(rw.dense_affinity(boundary, radius, path), beta=10)
    sparse = sparse_transition(boundary, beta=10, radius=radius, path=path)
    assert sparse.layout == torch.sparse_csr and sparse.shape == dense.shape
    torch.testing.assert_close(sparse.to_dense(), dense, atol=1e-6, rtol=1e-5)
    # every in-grid pair of the radius and the diagonal is stored, nothing else
    ys, xs = np.divmod(np.arange(height * width), width)
    close = (ys[:, None] - ys[None]) ** 2 + (xs[:, None] - xs[None]) ** 2 < radius ** 2
    stored = torch.zeros(height * width, height * width, dtype=torch.bool)
    rows = torch.repeat_interleave(torch.arange(height * width),
                                   sparse.crow_indices().diff().long())
    stored[rows, sparse.col_indices().long()] = True
    np.testing.assert_array_equal(stored.numpy(), close)
    # columns ascend within each row (a well-formed CSR)
    columns, crow = sparse.col_indices().long(), sparse.crow_indices().long()
    for start, end in zip(crow[:-1].tolist(), crow[1:].tolist()):
        assert torch.all(columns[start + 1:end] > columns[start:end - 1])


def test_disc_offsets_cover_the_disc_once():
    offsets, sources = disc_offsets(5)
    assert len(offsets) == len(set(offsets)) == 69 and list(offsets) == sorted(offsets)
    assert set(offsets) == {(dy, dx) for dy in range(-4, 5) for dx in range(-4, 5)
                            if dy * dy + dx * dx < 25}
    assert sources[offsets.index((0, 0))] == -1


@pytest.mark.parametrize('seed', range(3))
def test_steps_walk_and_labels_equal_the_squaring(seed):
    """The authors' T^(2^8) by 8 dense squarings vs 2^8 sparse steps: walked maps allclose,
    labels equal (radius 5, beta 10 as in IRN)."""
    boundary = walled_boundary(14, 17, seed)
    maps = torch.rand(3, 14, 17, generator=torch.Generator().manual_seed(100 + seed))
    squared = rw.random_walk_maps(maps, boundary, power='squaring')
    stepped = rw.random_walk_maps(maps, boundary, power='steps')
    torch.testing.assert_close(stepped, squared, atol=1e-6, rtol=1e-4)
    image_size, classes = (55, 66), [1, 4, 9]
    label = rw.random_walk_label(maps, boundary, classes, image_size)  # default: steps
    np.testing.assert_array_equal(
        label, rw.random_walk_label(maps, boundary, classes, image_size, power='squaring'))
    assert len(np.unique(label)) > 2
    for bg_threshold in (0.05, 0.5):
        np.testing.assert_array_equal(
            rw.walk_to_label(stepped, classes, image_size, bg_threshold=bg_threshold),
            rw.walk_to_label(squared, classes, image_size, bg_threshold=bg_threshold))


def test_default_walk_against_the_authors_propagate_to_edge():
    """The sparse steps against a transcription of jiwoon-ahn/irn ``misc/indexing.py``
    ``propagate_to_edge`` (float64: padded edge, diagonal 1, column-normalised A^beta,
    squared)."""
    rng = np.random.default_rng(7)
    edge = (rng.random((7, 9)) * 0.6).astype(np.float32)
    edge[:, 4] = 0.95
    maps = rng.random((2, 7, 9)).astype(np.float32)
    expected = authors_propagate(maps, edge, radius=5, beta=10, exp_times=8)
    ours = rw.random_walk_maps(torch.from_numpy(maps), torch.from_numpy(edge))
    np.testing.assert_allclose(ours.reshape(2, -1).numpy(), expected, rtol=1e-4, atol=1e-6)


def test_steps_walk_in_float64():
    """2^8 float32 products drift by ~1e-4 of the peak from the exact walk (a near-tie
    pixel's label flipped on a 128x128 synthetic image); the steps run in float64 and return
    the maps' dtype."""
    boundary = walled_boundary(16, 16, 5)
    maps = torch.rand(2, 16, 16, generator=torch.Generator().manual_seed(9))
    exact = rw.random_walk_maps(maps.double(), boundary.double(), power='squaring')
    stepped = rw.random_walk_maps(maps, boundary)
    assert stepped.dtype == torch.float32
    torch.testing.assert_close(stepped.double(), exact, atol=1e-7 * exact.max(), rtol=1e-6)


def test_steps_build_no_dense_matrix(monkeypatch):
    """The default walk never forms the n x n affinity (it used to, then converted it)."""
    def refuse(*args, **kwargs):
        raise AssertionError('dense n x n affinity built')

    monkeypatch.setattr(rw, 'dense_affinity', refuse)
    maps = torch.rand(2, 9, 11)
    walked = rw.random_walk_maps(maps, walled_boundary(9, 11, 0))
    assert walked.shape == (2, 9, 11) and torch.isfinite(walked).all()
    with pytest.raises(AssertionError, match='dense'):
        rw.random_walk_maps(maps, walled_boundary(9, 11, 0), power='squaring')


def test_walk_takes_a_sparse_or_a_dense_transition():
    boundary = walled_boundary(8, 9, 1)
    maps = torch.rand(2, 72)
    sparse = sparse_transition(boundary)
    dense = rw.transition_matrix(rw.dense_affinity(boundary))
    expected = rw.walk(maps, dense, exp_times=5, power='squaring')
    for transition in (sparse, dense):
        for power in rw.POWERS:
            torch.testing.assert_close(rw.walk(maps, transition, 5, power), expected,
                                       atol=1e-6, rtol=1e-4)


def test_steps_is_the_default_and_a_bad_power_names_both():
    for function in (rw.walk, rw.random_walk_maps, rw.random_walk_label, refine_sample):
        assert inspect.signature(function).parameters['power'].default == 'steps', function
    with pytest.raises(ValueError, match=r"power must be 'steps' or 'squaring', got 'cube'"):
        rw.random_walk_maps(torch.rand(1, 4, 4), torch.rand(4, 4), power='cube')


@pytest.mark.parametrize('name', ['cam-irn_voc12.py', 'cam-irn_synthetic.py',
                                  'rpnet-irn_synthetic.py'])
def test_irn_pipelines_walk_with_sparse_steps(name):
    from wsss_toolbox.pipeline import load_pipeline_config
    assert load_pipeline_config(f'configs/pipelines/{name}').irn_labels.power == 'steps'
