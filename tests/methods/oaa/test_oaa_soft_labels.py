"""LoadCumulativeMaps: soft labels aligned with the augmented image."""
import os.path as osp

import mmcv
import numpy as np
import pytest
from mmcv.transforms import Compose
from mmengine.registry import init_default_scope

from wsss_toolbox.maps import save_maps
from wsss_toolbox.utils import register_all_modules


@pytest.fixture(autouse=True)
def scope():
    register_all_modules(init_default_scope=False)
    init_default_scope('wsss_toolbox')


def _write(tmp_path, height=20, width=30):
    """An image whose blue channel encodes the map of class 1 (and green that of class 3)."""
    rng = np.random.default_rng(0)
    maps = np.zeros((2, height, width), np.float32)
    maps[0] = np.round(rng.random((height, width)) * 255) / 255
    maps[1] = np.round(rng.random((height, width)) * 255) / 255
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0] = np.round(maps[0] * 255)
    image[..., 1] = np.round(maps[1] * 255)
    mmcv.imwrite(image, str(tmp_path / 'img.png'))
    save_maps(str(tmp_path / 'maps' / 'img.npz'), 'img', np.array([1, 3]), maps)
    label = np.zeros(5, np.float32)
    label[[1, 3]] = 1
    return dict(img_path=str(tmp_path / 'img.png'), img_id='img', gt_label=label,
                seg_fields=[])


def _pipeline(map_dir, *geometric):
    return Compose([dict(type='LoadImageWithCheck'),
                    dict(type='LoadCumulativeMaps', map_dir=map_dir), *geometric,
                    dict(type='PackWSSSInputsWithSoftMaps')])


def test_soft_labels_follow_resize_flip_and_crop(tmp_path):
    info = _write(tmp_path)
    pipeline = _pipeline(
        str(tmp_path / 'maps'),
        # nearest for the image too, so that image and seg fields sample the same pixels
        dict(type='Resize', scale=(45, 30), keep_ratio=False, interpolation='nearest'),
        dict(type='RandomFlip', prob=1.0, direction='horizontal'),
        dict(type='RecordedRandomCrop', crop_size=(16, 24)))
    packed = pipeline(dict(info))
    image = packed['inputs'].numpy()
    soft = packed['data_samples'].gt_soft_maps.data.numpy()
    assert image.shape == (3, 16, 24) and soft.shape == (5, 16, 24)
    np.testing.assert_allclose(soft[1], image[0] / 255, atol=1e-3)  # float16 map file
    np.testing.assert_allclose(soft[3], image[1] / 255, atol=1e-3)
    assert not soft[[0, 2, 4]].any()  # absent classes are all zero
    meta = packed['data_samples'].metainfo
    assert meta['flip'] and 'crop_bbox' in meta


def test_no_geometry_and_a_single_class_dataset(tmp_path):
    info = _write(tmp_path)
    packed = _pipeline(str(tmp_path / 'maps'))(dict(info))
    assert packed['data_samples'].gt_soft_maps.shape == (20, 30)
    one_class = dict(info, gt_label=np.ones(1, np.float32))
    save_maps(str(tmp_path / 'one' / 'img.npz'), 'img', np.array([0]),
              np.full((1, 20, 30), 0.5, np.float32))
    packed = _pipeline(str(tmp_path / 'one'), dict(type='Resize', scale=(15, 10),
                                                   keep_ratio=False))(one_class)
    assert packed['data_samples'].gt_soft_maps.data.shape == (1, 10, 15)


def test_errors_name_the_file(tmp_path):
    info = _write(tmp_path)
    with pytest.raises(FileNotFoundError, match=osp.join('elsewhere', 'img.npz')):
        _pipeline(str(tmp_path / 'elsewhere'))(dict(info))
    save_maps(str(tmp_path / 'small' / 'img.npz'), 'img', np.array([1]),
              np.zeros((1, 10, 10), np.float32))
    with pytest.raises(ValueError, match='original size'):
        _pipeline(str(tmp_path / 'small'))(dict(info))
    late = Compose([dict(type='LoadImageWithCheck'),
                    dict(type='Resize', scale=(15, 10), keep_ratio=False),
                    dict(type='LoadCumulativeMaps', map_dir=str(tmp_path / 'maps'))])
    with pytest.raises(RuntimeError, match='before any geometric transform'):
        late(dict(info))


def test_a_map_file_of_another_image_or_class_is_an_error(tmp_path):
    info = _write(tmp_path)  # tagged with classes 1 and 3
    save_maps(str(tmp_path / 'extra' / 'img.npz'), 'img', np.array([1, 2]),
              np.zeros((2, 20, 30), np.float32))
    with pytest.raises(ValueError, match=r'extra/img\.npz" holds maps of class\(es\) \[2\], '
                                         r'but image "img" is tagged only with \[1, 3\]'):
        _pipeline(str(tmp_path / 'extra'))(dict(info))
    save_maps(str(tmp_path / 'other' / 'img.npz'), 'another', np.array([1]),
              np.zeros((1, 20, 30), np.float32))
    with pytest.raises(ValueError, match=r'other/img\.npz" belongs to image "another"'):
        _pipeline(str(tmp_path / 'other'))(dict(info))
