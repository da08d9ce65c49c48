import pytest
import torch

from wsss_toolbox.models.utils import crop_valid_region, normalized_attention, resize_maps_to_image


def test_normalized_attention_hand_computed():
    maps = torch.tensor([[[[1., 2.], [3., 4.]],          # max 4
                          [[1.5, 1.5], [0.5, -1.5]],     # max 1.5, one negative
                          [[-1., -2.], [-3., -4.]]]])    # all negative -> all zero
    attention = normalized_attention(maps)
    expected = torch.tensor([[[[0.25, 0.5], [0.75, 1.]],
                              [[1., 1.], [1 / 3, 0.]],
                              [[0., 0.], [0., 0.]]]])
    torch.testing.assert_close(attention, expected)


def test_normalized_attention_keeps_shape_and_rejects_vectors():
    maps = torch.randn(2, 5, 3, 7)
    attention = normalized_attention(maps)
    assert attention.shape == maps.shape
    assert attention.min() >= 0 and attention.max() <= 1
    with pytest.raises(ValueError, match='shape'):
        normalized_attention(torch.randn(4))


def test_resize_maps_to_image_crops_padding_after_upsampling():
    maps = torch.arange(2 * 4 * 4, dtype=torch.float32).reshape(2, 4, 4)
    full = torch.nn.functional.interpolate(maps[None], size=(32, 32), mode='bilinear',
                                           align_corners=False)[0]
    resized = resize_maps_to_image(maps, (32, 32), (24, 20))
    assert resized.shape == (2, 24, 20)
    torch.testing.assert_close(resized, full[:, :24, :20])
    with pytest.raises(ValueError, match='larger than the network input'):
        resize_maps_to_image(maps, (32, 32), (40, 20))


def test_crop_valid_region_at_feature_resolution():
    maps = torch.zeros(3, 4, 4)
    # 24 of 32 rows -> 3 of 4 feature rows; 20 of 32 cols -> ceil(2.5) = 3 feature cols.
    assert crop_valid_region(maps, (32, 32), (24, 20)).shape == (3, 3, 3)
    assert crop_valid_region(maps, (32, 32), (32, 32)).shape == (3, 4, 4)
