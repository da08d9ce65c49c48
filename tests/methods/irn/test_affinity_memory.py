"""The memory-lean affinity (``boundary_to_affinity`` whose backward recomputes the path maxima,
``affinity_labels`` one offset at a time) against the implementation it replaced, kept here
as the reference: the same affinities and labels, the same loss and gradients (to float
rounding, ties included), for both path rules and both source sets; and what autograd keeps.
``tools/analysis/benchmark_irn_memory.py`` measures the memory; its re-implementation of the
authors' mechanism is checked here against ours."""
import importlib.util
import os.path as osp

import pytest
import torch

from wsss_toolbox.methods.irn.affinity import (
    IGNORE_INDEX,
    affinity_labels,
    affinity_loss,
    boundary_to_affinity,
    pair_offsets,
    path_table,
    shift_stack,
    source_mask,
)

SCRIPT = osp.join(osp.dirname(__file__), '..', '..', '..', 'tools', 'analysis',
                  'benchmark_irn_memory.py')


# ------------------------------------------------------------------ the replaced implementation
def reference_boundary_to_affinity(boundary, radius, path='band'):
    """The previous ``boundary_to_affinity``: per path length one gather of every path cell,
    ``(N, G, L, H, W)``, and ``amax`` over it (autograd keeps each gather)."""
    if boundary.dim() == 4:
        boundary = boundary[:, 0]
    points, groups, order = path_table(radius, path)
    shifted = shift_stack(boundary, points, fill=1.0)
    num, _, height, width = shifted.shape
    path_max = []
    for _, index in groups:
        cells = torch.as_tensor(index)
        gathered = shifted[:, cells.reshape(-1)].view(num, *cells.shape, height, width)
        path_max.append(gathered.amax(dim=2))
    return 1 - torch.cat(path_max, dim=1)[:, torch.as_tensor(order)]


def reference_affinity_labels(seeds, radius, pair_sources='cropped'):
    """The previous ``affinity_labels``: the partners of all offsets as one int64 stack."""
    seeds = seeds.long()
    partner = shift_stack(seeds, pair_offsets(radius), fill=IGNORE_INDEX)
    anchor = seeds[:, None].expand_as(partner)
    sources = source_mask(*seeds.shape[-2:], radius, pair_sources, seeds.device)
    valid = (anchor != IGNORE_INDEX) & (partner != IGNORE_INDEX) & sources
    same = anchor == partner
    return dict(bg_pos=(valid & same & (anchor == 0)).float(),
                fg_pos=(valid & same & (anchor > 0)).float(),
                neg=(valid & ~same).float())


def _inputs(seed, num=2, height=13, width=17):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(num, 1, height, width, generator=gen) * 3
    labels = torch.tensor([0, 0, 1, 2, IGNORE_INDEX])
    seeds = labels[torch.randint(0, 5, (num, height, width), generator=gen)]
    return logits, seeds


def _loss_and_grad(logits, seeds, radius, path, pair_sources, to_affinity, labels_of):
    logits = logits.clone().requires_grad_(True)
    affinity = to_affinity(torch.sigmoid(logits), radius, path)
    losses = affinity_loss(affinity, labels_of(seeds, radius, pair_sources))
    total = sum(losses.values())
    total.backward()
    return affinity.detach(), losses, logits.grad


# ------------------------------------------------------------------ same values and gradients
@pytest.mark.parametrize('path', ['band', 'line'])
@pytest.mark.parametrize('pair_sources', ['cropped', 'all'])
@pytest.mark.parametrize('radius', [3, 5])
def test_affinity_loss_and_gradients_match_the_reference(path, pair_sources, radius):
    logits, seeds = _inputs(radius)
    new = _loss_and_grad(logits, seeds, radius, path, pair_sources, boundary_to_affinity,
                         affinity_labels)
    old = _loss_and_grad(logits, seeds, radius, path, pair_sources,
                         reference_boundary_to_affinity, reference_affinity_labels)
    assert torch.equal(new[0], old[0])  # a maximum is exact in any order
    for kind, value in old[1].items():
        assert torch.allclose(new[1][kind], value, rtol=1e-6, atol=0), kind
    assert old[2].abs().sum() > 0
    assert torch.allclose(new[2], old[2], rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize('pair_sources', ['cropped', 'all'])
def test_affinity_labels_match_the_reference_exactly(pair_sources):
    _, seeds = _inputs(7, num=3, height=12, width=19)
    new = affinity_labels(seeds, 4, pair_sources)
    old = reference_affinity_labels(seeds, 4, pair_sources)
    assert new.keys() == old.keys()
    for kind in old:
        assert new[kind].dtype == torch.float32
        assert torch.equal(new[kind], old[kind]), kind


@pytest.mark.parametrize('path', ['band', 'line'])
def test_tied_maxima_share_the_gradient_as_amax_does(path):
    # boundary values from {0, 0.5, 1}: most paths have several cells at their maximum, and
    # ones at the grid's edge tie with the padding (1 outside the grid)
    gen = torch.Generator().manual_seed(3)
    values = torch.randint(0, 3, (2, 9, 11), generator=gen).float() / 2
    weights = torch.rand(2, len(pair_offsets(4)), 9, 11, generator=gen)
    grads = []
    for to_affinity in (boundary_to_affinity, reference_boundary_to_affinity):
        boundary = values.clone().requires_grad_(True)
        (to_affinity(boundary, 4, path) * weights).sum().backward()
        grads.append(boundary.grad)
    assert torch.allclose(grads[0], grads[1], rtol=1e-6, atol=1e-7)


def test_affinity_gradient_against_finite_differences():
    gen = torch.Generator().manual_seed(0)
    boundary = torch.rand(1, 5, 6, generator=gen, dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda b: boundary_to_affinity(b, 3), (boundary,),
                                    fast_mode=True)


def test_affinity_without_gradient_and_with_a_channel_dimension():
    logits, _ = _inputs(1)
    boundary = torch.sigmoid(logits)
    with torch.no_grad():
        plain = boundary_to_affinity(boundary, 4)
    assert not plain.requires_grad
    assert torch.equal(plain, reference_boundary_to_affinity(boundary, 4))
    assert torch.equal(boundary_to_affinity(boundary[:, 0], 4), plain)


# ------------------------------------------------------------------ what autograd keeps
def _saved_bytes(fn, boundary):
    """Bytes of the tensors autograd saves for backward while ``fn`` runs (storages counted
    once)."""
    storages = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        fn(boundary)
    return sum(storages.values())


def test_training_keeps_the_boundary_not_the_path_cells():
    radius, height, width = 5, 16, 16
    boundary = torch.rand(2, height, width).requires_grad_(True)
    _, groups, _ = path_table(radius, 'band')
    cells = sum(index.size for _, index in groups)  # path cells per pixel
    new = _saved_bytes(lambda b: boundary_to_affinity(b, radius), boundary)
    old = _saved_bytes(lambda b: reference_boundary_to_affinity(b, radius), boundary)
    assert new == boundary.numel() * 4
    assert old >= cells * boundary.numel() * 4  # the gathers the reference keeps


# ------------------------------------------------------------------ the benchmark's baselines
@pytest.fixture(scope='module')
def bench():
    spec = importlib.util.spec_from_file_location('benchmark_irn_memory', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('path', ['band', 'line'])
def test_the_benchmarks_authors_mechanism_gives_our_cropped_loss(bench, path):
    radius = 4
    logits, seeds = _inputs(11, height=14, width=15)
    tables = bench.AuthorsPathIndex(radius, logits.shape[-2:], path)
    grads, totals = [], []
    for variant in ('authors', 'toolbox', 'before'):
        step = bench.make_step(variant, radius, path, 'cropped', tables)
        leaf = logits.clone().requires_grad_(True)
        total = step(leaf, seeds)
        total.backward()
        totals.append(total.item())
        grads.append(leaf.grad)
    assert totals[0] == pytest.approx(totals[1], rel=1e-5)
    assert totals[2] == pytest.approx(totals[1], rel=1e-6)
    # max_pool2d gives a tied maximum's gradient to one cell, amax shares it: no ties here
    assert torch.allclose(grads[0], grads[1], rtol=1e-4, atol=1e-8)
    assert torch.allclose(grads[2], grads[1], rtol=1e-5, atol=1e-9)


def test_the_benchmarks_measurements_run_on_a_tiny_grid(bench):
    args = bench.parse_args(['--grid', '12', '--radius', '3', '--repeats', '1'])
    for variant in bench.VARIANTS:
        memory = bench.measure(variant, 1, 'memory', args)
        assert memory['peak_mib'] >= 0 and memory['loss'] > 0
        assert (memory['fixed_mib'] > 0) == (variant == 'authors')
        assert bench.measure(variant, 1, 'time', args)['seconds'] > 0
