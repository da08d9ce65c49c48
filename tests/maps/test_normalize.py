"""normalize_maps: hand-computed values, torch / numpy agreement, and bit-equality with the
helpers it replaced (their formulas are copied here as the reference)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wsss_toolbox.maps.normalize import normalize_maps
from wsss_toolbox.models.utils import normalized_attention


# ---- the former helpers, verbatim -------------------------------------------------------
def old_normalise_class_maps(maps, eps=1e-5):  # maps/inference.py
    peak = maps.flatten(1).max(dim=1).values.clamp(min=eps)
    return maps / peak[:, None, None]


def old_normalized_attention(maps, eps=1e-5):  # models/utils.py
    positive = F.relu(maps)
    peak = positive.amax(dim=(-2, -1), keepdim=True)
    return positive / peak.clamp(min=eps)


def old_normalize_by_max(maps):  # pseudo_labels/generators.py
    peak = maps.reshape(maps.shape[0], -1).max(axis=1) if maps.size else np.zeros(0)
    peak = np.where(peak > 0, peak, 1.0).astype(np.float32)
    return maps / peak[:, None, None]


def old_normalize_min_max(maps):  # pseudo_labels/generators.py
    if maps.shape[0] == 0:
        return maps
    flat = maps.reshape(maps.shape[0], -1)
    low = flat.min(axis=1)[:, None, None]
    span = (flat.max(axis=1) - flat.min(axis=1))[:, None, None]
    return np.where(span > 0, (maps - low) / np.where(span > 0, span, 1.0), 0.0).astype(
        np.float32)


def old_min_max_normalise(maps):  # maps/store.py (OAA)
    flat = maps.flatten(1)
    low = flat.min(dim=1).values[:, None, None]
    span = (flat.max(dim=1).values[:, None, None] - low)
    return torch.where(span > 0, (maps - low) / span.clamp(min=1e-12), torch.zeros_like(maps))


def random_maps(seed):
    """float32 (K, H, W) maps over many magnitudes, with all-zero, tiny and negative maps."""
    rng = np.random.default_rng(seed)
    num, height, width = rng.integers(1, 5), rng.integers(1, 9), rng.integers(1, 9)
    maps = rng.standard_normal((num, height, width)) * 10**rng.uniform(-8, 3)
    maps = maps.astype(np.float32)
    maps[0] = 0 if seed % 3 == 0 else maps[0]
    if num > 1 and seed % 2:
        maps[1] = np.abs(maps[1]) * 1e-7  # peak below eps
    return maps


@pytest.mark.parametrize('seed', range(40))
def test_bit_equal_to_the_former_helpers(seed):
    maps = random_maps(seed)
    for array in (maps, np.maximum(maps, 0)):
        tensor = torch.from_numpy(array)
        for new, old in ((normalize_maps(array, 'max', eps=0), old_normalize_by_max(array)),
                         (normalize_maps(array, 'minmax', eps=0),
                          old_normalize_min_max(array))):
            assert new.dtype == old.dtype and np.array_equal(new, old)
        assert torch.equal(normalize_maps(tensor, 'minmax', eps=1e-12),
                           old_min_max_normalise(tensor))
        assert torch.equal(normalized_attention(tensor), old_normalized_attention(tensor))
        assert torch.equal(normalized_attention(tensor[None]),
                           old_normalized_attention(tensor[None]))
    positive = torch.from_numpy(np.maximum(maps, 0))
    assert torch.equal(normalize_maps(positive, 'max', eps=1e-5),
                       old_normalise_class_maps(positive))


def test_hand_computed():
    maps = torch.tensor([[[0., 2.], [1., 4.]],      # peak 4
                         [[0., 0.], [0., 0.]],      # all zero: stays zero
                         [[1e-6, 0.], [0., 0.]],    # peak below eps: divided by eps
                         [[3., 3.], [3., 3.]]])     # constant
    out = normalize_maps(maps, 'max', eps=1e-5)
    torch.testing.assert_close(out[0], torch.tensor([[0., .5], [.25, 1.]]))
    assert torch.all(out[1] == 0)
    torch.testing.assert_close(out[2, 0, 0], torch.tensor(0.1))
    assert torch.all(out[3] == 1)
    assert normalize_maps(maps, 'max', eps=0)[2, 0, 0] == 1
    minmax = normalize_maps(maps, 'minmax')
    torch.testing.assert_close(minmax[0], torch.tensor([[0., .5], [.25, 1.]]))
    assert torch.all(minmax[1] == 0) and torch.all(minmax[3] == 0)


def test_eps_added_to_the_peak_by_hand():
    """eps_rule='add': cam / (max + eps), as IRN's make_cam (eps 1e-5) and SeeNet's notebook."""
    maps = torch.tensor([[[0., 2.], [1., 4.]],      # peak 4
                         [[0., 0.], [0., 0.]],      # all zero: stays zero
                         [[1e-6, 0.], [0., 0.]]])   # peak below eps
    out = normalize_maps(maps, 'max', eps=1e-5, eps_rule='add')
    torch.testing.assert_close(out[0], maps[0] / 4.00001)
    assert torch.all(out[1] == 0)
    torch.testing.assert_close(out[2, 0, 0], torch.tensor(1e-6 / 1.1e-5))
    array = normalize_maps(maps.numpy(), 'max', eps=1e-5, eps_rule='add')
    np.testing.assert_allclose(array, out.numpy(), rtol=1e-6)
    assert torch.all(normalize_maps(maps, 'max', eps=0, eps_rule='add')[1] == 0)  # 0 / 1
    span = normalize_maps(maps, 'minmax', eps=1e-5, eps_rule='add')
    torch.testing.assert_close(span[0], maps[0] / 4.00001)
    with pytest.raises(ValueError, match='eps_rule must be one of'):
        normalize_maps(maps, eps_rule='clamp')


def test_torch_and_numpy_agree_and_keep_their_types():
    maps = np.abs(random_maps(7)) + np.float32(0.01)
    for mode in ('max', 'minmax'):
        array = normalize_maps(maps, mode)
        tensor = normalize_maps(torch.from_numpy(maps), mode)
        assert isinstance(array, np.ndarray) and array.dtype == np.float32
        assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float32
        np.testing.assert_allclose(array, tensor.numpy(), rtol=1e-6)
    assert normalize_maps(maps.astype(np.float16)).dtype == np.float32
    assert normalize_maps(maps.astype(np.float64)).dtype == np.float64
    assert normalize_maps([[1, 2], [3, 4]]).dtype == np.float32  # lists and ints
    assert normalize_maps(np.zeros((0, 3, 4))).shape == (0, 3, 4)
    assert normalize_maps(torch.zeros(0, 3, 4)).shape == (0, 3, 4)


def test_errors():
    with pytest.raises(ValueError, match="mode must be one of \\('max', 'minmax'\\)"):
        normalize_maps(np.ones((1, 2, 2)), mode='sum')
    with pytest.raises(ValueError, match='shape'):
        normalize_maps(torch.ones(4))
    with pytest.raises(ValueError, match='eps'):
        normalize_maps(np.ones((1, 2, 2)), eps=-1)
