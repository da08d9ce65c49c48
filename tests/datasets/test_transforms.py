"""Stage-1 transforms: loading checks, alignment under resize/crop/flip, packing, restoring."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.dataset import Compose
from mmengine.structures import PixelData

from datasets.dataset_files import write_image, write_mask, write_text, wsss_scope  # noqa: F401
from wsss_toolbox.datasets import (
    DEFAULT_META_KEYS,
    LoadImageWithCheck,
    LoadWSSSAnnotations,
    PackWSSSInputs,
    restore_geometry,
)
from wsss_toolbox.registry import DATASETS
from wsss_toolbox.structures import WSSSDataSample


def results_for(img_path, seg_map_path=None, saliency_path=None,
                label=(1.0, 0.0, 0.0, 0.0)):
    # 4 classes: the test masks use the ids 0..4 (and 255); LoadWSSSAnnotations checks them
    return dict(img_path=img_path, img_id=osp.splitext(osp.basename(img_path))[0],
                gt_label=np.asarray(label, dtype=np.float32), seg_map_path=seg_map_path,
                saliency_path=saliency_path, seg_fields=[])


# ------------------------------------------------------------------------------ loading
def test_missing_and_corrupt_images_are_named(tmp_path):
    loader = LoadImageWithCheck()
    with pytest.raises(FileNotFoundError, match=r"image '.*nowhere\.jpg' does not exist"):
        loader(results_for(str(tmp_path / 'nowhere.jpg')))
    corrupt = tmp_path / 'corrupt.jpg'
    corrupt.write_bytes(b'this is not a JPEG file')
    with pytest.raises(OSError, match=r"cannot decode image '.*corrupt\.jpg'"):
        loader(results_for(str(corrupt)))
    empty = tmp_path / 'empty.png'
    empty.write_bytes(b'')
    with pytest.raises(OSError, match=r"cannot decode image '.*empty\.png'"):
        loader(results_for(str(empty)))
    image = write_image(str(tmp_path / 'fine.png'))
    loaded = loader(results_for(str(tmp_path / 'fine.png')))
    np.testing.assert_array_equal(loaded['img'], image)
    assert loaded['ori_shape'] == (12, 16)


def test_annotations_are_loaded_and_registered_as_seg_fields(tmp_path):
    write_image(str(tmp_path / 'a.png'))
    mask = np.zeros((12, 16), np.uint8)
    mask[2:6, 3:9] = 4
    mask[0] = 255
    write_mask(str(tmp_path / 'a_mask.png'), mask, palette=True)
    saliency = np.tile(np.arange(16, dtype=np.uint8) * 17, (12, 1))
    write_mask(str(tmp_path / 'a_sal.png'), saliency)
    pipeline = Compose([LoadImageWithCheck(), LoadWSSSAnnotations()])
    results = pipeline(
        results_for(str(tmp_path / 'a.png'), str(tmp_path / 'a_mask.png'),
                    str(tmp_path / 'a_sal.png')))
    np.testing.assert_array_equal(results['gt_seg_map'], mask)
    assert results['gt_saliency'].dtype == np.float32
    np.testing.assert_allclose(results['gt_saliency'], saliency / 255.0, atol=1e-6)
    assert results['seg_fields'] == ['gt_seg_map', 'gt_saliency']
    # without the paths nothing is added
    bare = pipeline(results_for(str(tmp_path / 'a.png')))
    assert 'gt_seg_map' not in bare and 'gt_saliency' not in bare


def test_mask_or_saliency_of_another_size_is_an_error(tmp_path):
    write_image(str(tmp_path / 'a.png'), height=12, width=16)
    write_mask(str(tmp_path / 'small_mask.png'), np.zeros((10, 16), np.uint8))
    write_mask(str(tmp_path / 'big_sal.png'), np.zeros((12, 20), np.uint8))
    pipeline = Compose([LoadImageWithCheck(), LoadWSSSAnnotations()])
    with pytest.raises(ValueError, match=r"mask '.*small_mask\.png' is 16x10 .* image "
                       r"'.*a\.png' is 16x12"):
        pipeline(results_for(str(tmp_path / 'a.png'), seg_map_path=str(tmp_path /
                                                                       'small_mask.png')))
    with pytest.raises(ValueError, match=r"saliency map '.*big_sal\.png' is 20x12"):
        pipeline(results_for(str(tmp_path / 'a.png'), saliency_path=str(tmp_path /
                                                                        'big_sal.png')))
    corrupt = tmp_path / 'corrupt_mask.png'
    corrupt.write_bytes(b'garbage')
    with pytest.raises(OSError, match=r"cannot decode mask '.*corrupt_mask\.png'"):
        pipeline(results_for(str(tmp_path / 'a.png'), seg_map_path=str(corrupt)))


def test_annotations_must_be_loaded_before_geometric_transforms(tmp_path):
    write_image(str(tmp_path / 'a.png'))
    write_mask(str(tmp_path / 'm.png'), np.zeros((12, 16), np.uint8))
    pipeline = Compose([
        dict(type='LoadImageWithCheck'),
        dict(type='Resize', scale=(32, 24)),
        dict(type='LoadWSSSAnnotations')
    ])
    with pytest.raises(RuntimeError, match='before any geometric transform'):
        pipeline(results_for(str(tmp_path / 'a.png'), seg_map_path=str(tmp_path / 'm.png')))


# ------------------------------------------------------------------------------ alignment
@pytest.fixture
def coded_sample(tmp_path):
    """An image whose colour encodes its mask: img = 20 * mask (all channels), saliency = mask
    > 0. Nearest-neighbour geometry keeps that identity iff image, mask and saliency stay
    aligned."""
    rng = np.random.default_rng(3)
    mask = np.kron(rng.integers(0, 4, (6, 8)), np.ones((5, 5), dtype=np.int64)).astype(np.uint8)
    mask[:4, :6] = 1  # asymmetric corner, so a missing flip cannot go unnoticed
    image = np.repeat((mask * 20)[..., None], 3, axis=2).astype(np.uint8)
    import cv2
    cv2.imwrite(str(tmp_path / 'coded.png'), image)
    write_mask(str(tmp_path / 'coded_mask.png'), mask)
    write_mask(str(tmp_path / 'coded_sal.png'), (mask > 0).astype(np.uint8) * 255)
    return results_for(str(tmp_path / 'coded.png'), str(tmp_path / 'coded_mask.png'),
                       str(tmp_path / 'coded_sal.png')), mask


def augmenting_pipeline(flip_prob=1.0):
    return Compose([
        dict(type='LoadImageWithCheck'),
        dict(type='LoadWSSSAnnotations'),
        dict(type='RandomResize', scale=(40, 30), ratio_range=(1.5, 2.5), keep_ratio=True,
             interpolation='nearest'),
        dict(type='RecordedRandomCrop', crop_size=(32, 36)),
        dict(type='RandomFlip', prob=flip_prob, direction='horizontal'),
        dict(type='PackWSSSInputs'),
    ])


def test_mask_and_saliency_stay_aligned_under_resize_crop_flip(coded_sample):
    results, mask = coded_sample
    pipeline = augmenting_pipeline()
    np.random.seed(0)
    for _ in range(5):
        packed = pipeline(dict(results, seg_fields=[]))
        sample = packed['data_samples']
        image = packed['inputs'].numpy()  # (3, H, W)
        gt = sample.gt_sem_seg.data[0].numpy()
        saliency = sample.gt_saliency.data[0].numpy()
        assert image.shape[1:] == gt.shape == saliency.shape == (32, 36)
        np.testing.assert_array_equal(image[0], gt * 20)
        np.testing.assert_array_equal(saliency, (gt > 0).astype(np.float32))
        assert sample.flip and sample.flip_direction == 'horizontal'
        assert sample.scale_factor[0] > 1.4 and len(sample.crop_bbox) == 4
        # what the transforms recorded maps the crop back onto the original image
        restored = restore_geometry(sample.gt_sem_seg.data.float(), sample.metainfo,
                                    fill=-1, mode='nearest')[0].numpy()
        assert restored.shape == mask.shape
        known = restored >= 0
        assert known.mean() > 0.1  # the crop covers part of the up-scaled image
        agreement = (restored[known] == mask[known]).mean()
        assert agreement > 0.99  # (nearest rounding could shift a boundary pixel)


def test_restore_geometry_exactly_inverts_integer_scale_crop_and_flip():
    original = torch.arange(2 * 10 * 12, dtype=torch.float32).reshape(2, 10, 12)
    resized = original.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)  # x2: 20x24
    x1, y1, x2, y2 = 4, 6, 20, 18
    shown = torch.flip(resized[:, y1:y2, x1:x2], dims=(-1, ))
    meta = dict(ori_shape=(10, 12), img_shape=(12, 16), scale_factor=(2.0, 2.0),
                crop_bbox=(x1, y1, x2, y2), flip=True, flip_direction='horizontal')
    restored = restore_geometry(shown, meta, fill=-1.0, mode='nearest')
    expected = torch.full_like(original, -1.0)
    expected[:, 3:9, 2:10] = original[:, 3:9, 2:10]
    torch.testing.assert_close(restored, expected)
    # without crop and flip it is a plain resize back
    meta = dict(ori_shape=(10, 12), scale_factor=(2.0, 2.0), flip=False)
    torch.testing.assert_close(restore_geometry(resized, meta, mode='nearest'), original)


def test_transform_that_leaves_the_saliency_behind_is_caught(coded_sample):
    """mmcv's own Resize moves only gt_seg_map; packing then refuses the misaligned saliency."""
    results, _ = coded_sample
    pipeline = Compose([
        dict(type='LoadImageWithCheck'),
        dict(type='LoadWSSSAnnotations'),
        dict(type='mmcv.Resize', scale=(60, 45)),
        dict(type='PackWSSSInputs'),
    ])
    with pytest.raises(ValueError, match=r"gt_saliency of '.*coded\.png' is \(30, 40\) but the "
                       r'image is \(45, 60\)'):
        pipeline(dict(results, seg_fields=[]))


def test_fixed_geometry_is_identical_every_time(coded_sample):
    """OAA accumulates maps across epochs: a fixed Resize gives the same frame every pass."""
    results, _ = coded_sample
    pipeline = Compose([
        dict(type='LoadImageWithCheck'),
        dict(type='LoadWSSSAnnotations'),
        dict(type='Resize', scale=(48, 40), keep_ratio=False),
        dict(type='PackWSSSInputs'),
    ])
    first = pipeline(dict(results, seg_fields=[]))
    second = pipeline(dict(results, seg_fields=[]))
    assert torch.equal(first['inputs'], second['inputs'])
    assert first['inputs'].shape == (3, 40, 48)
    assert first['data_samples'].img_shape == (40, 48)
    assert first['data_samples'].scale_factor == pytest.approx((48 / 40, 40 / 30))


# ------------------------------------------------------------------------------ packing
def test_pack_output(tmp_path):
    image = write_image(str(tmp_path / 'img.png'), height=6, width=7)
    results = dict(
        results_for(str(tmp_path / 'img.png'), label=(0.0, 1.0, 1.0)),
        img=image, img_shape=(6, 7), ori_shape=(6, 7), scale_factor=(1.0, 1.0), flip=False,
        gt_seg_map=np.full((6, 7), 2, np.uint8), gt_saliency=np.full((6, 7), 0.5, np.float32),
        unrelated='not packed')
    packed = PackWSSSInputs()(results)
    assert set(packed) == {'inputs', 'data_samples'}
    inputs, sample = packed['inputs'], packed['data_samples']
    assert inputs.dtype == torch.uint8 and inputs.shape == (3, 6, 7)
    assert inputs.is_contiguous()
    np.testing.assert_array_equal(inputs.numpy(), image.transpose(2, 0, 1))
    assert isinstance(sample, WSSSDataSample)
    assert sample.gt_label.dtype == torch.float32
    assert sample.gt_label.tolist() == [0.0, 1.0, 1.0]
    assert sample.positive_classes.tolist() == [1, 2]
    assert isinstance(sample.gt_sem_seg, PixelData)
    assert sample.gt_sem_seg.data.shape == (1, 6, 7)
    assert sample.gt_sem_seg.data.dtype == torch.int64
    assert sample.gt_saliency.data.dtype == torch.float32
    assert float(sample.gt_saliency.data.mean()) == pytest.approx(0.5)
    assert sample.img_id == 'img' and sample.ori_shape == (6, 7) and sample.flip is False
    assert 'unrelated' not in sample.metainfo and 'pad_shape' not in sample.metainfo
    assert 'img_id' in DEFAULT_META_KEYS
    # no mask / saliency loaded: no such fields
    bare = PackWSSSInputs()(dict(results_for(str(tmp_path / 'img.png')), img=image))
    assert 'gt_sem_seg' not in bare['data_samples']
    assert 'gt_saliency' not in bare['data_samples']


def test_dataset_with_pipeline_end_to_end(tmp_path):
    root = tmp_path / 'generic'
    write_image(str(root / 'images' / 'a.jpg'), height=20, width=24)
    write_mask(str(root / 'sal' / 'a.png'), np.full((20, 24), 255, np.uint8))
    write_text(str(root / 'labels.txt'), ['a horse'])
    dataset = DATASETS.build(
        dict(type='GenericImageLabelDataset', data_root=str(root),
             metainfo=dict(classes=('cat', 'horse')),
             data_prefix=dict(img_path='images', saliency_path='sal'),
             pipeline=[dict(type='LoadImageWithCheck'),
                       dict(type='LoadWSSSAnnotations'),
                       dict(type='Resize', scale=(16, 16), keep_ratio=False),
                       dict(type='PackWSSSInputs')]))
    item = dataset[0]
    assert item['inputs'].shape == (3, 16, 16)
    sample = item['data_samples']
    assert sample.gt_label.tolist() == [0.0, 1.0]
    assert sample.gt_saliency.data.shape == (1, 16, 16)
    assert sample.img_id == 'a' and sample.ori_shape == (20, 24)
