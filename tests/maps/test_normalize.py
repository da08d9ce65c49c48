"""normalize_maps: hand-computed values, properties on random maps, torch / numpy agreement."""
import numpy as np
import pytest
import torch

from wsss_toolbox.maps.normalize import normalize_maps
from wsss_toolbox.models.utils import normalized_attention


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
def test_properties_on_random_maps(seed):
    """Over many magnitudes: a max-normalised map peaks at 1 (0 when it is all zero or
    negative), stays in [0, 1] once ReLU'd; min-max spans [0, 1] unless constant; numpy and
    torch inputs give the same values."""
    maps = random_maps(seed)
    positive = np.maximum(maps, 0)
    out = normalize_maps(positive, 'max', eps=0)
    assert out.dtype == positive.dtype and out.min() >= 0 and out.max() <= 1
    for index, channel in enumerate(positive):
        assert out[index].max() == (1 if channel.max() > 0 else 0)
    minmax = normalize_maps(maps, 'minmax', eps=0)
    for index, channel in enumerate(maps):
        if channel.max() > channel.min():
            assert minmax[index].min() == 0 and abs(minmax[index].max() - 1) < 1e-6
        else:
            assert np.all(minmax[index] == 0)
    np.testing.assert_array_equal(
        normalize_maps(torch.from_numpy(positive), 'max', eps=1e-5).numpy(),
        normalize_maps(positive, 'max', eps=1e-5))
    np.testing.assert_array_equal(normalized_attention(torch.from_numpy(maps)).numpy(),
                                  normalize_maps(positive, 'max', eps=1e-5))


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
