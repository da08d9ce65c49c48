"""Masks holding a value that is neither a class id nor 255: every reader refuses them with an
error naming the file, the ids and the number of classes (instead of a silently lower mIoU)."""
import os.path as osp

import numpy as np
import pytest
from mmengine.registry import init_default_scope

from datasets.dataset_files import (  # noqa: F401
    two_class_mask,
    write_image,
    write_mask,
    write_text,
    wsss_scope,
)
from wsss_toolbox.datasets import DatasetFormatError, LoadWSSSAnnotations, read_mask
from wsss_toolbox.datasets.voc import classes_in_mask
from wsss_toolbox.registry import DATASETS

SEG_CLASSES = ('background', 'square', 'disc')  # mask ids 0..2, 255 = ignore
SEG_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                dict(type='PackSegInputs')]


def bad_mask(height=4, width=4, value=230):
    mask = np.zeros((height, width), np.uint8)
    mask[0] = 255
    mask[1, 1] = 1
    mask[2:, 2:] = value
    return mask


def seg_layout(root, masks):
    """VOC-layout folder for the stage-3 datasets: one 4x4 image and mask per entry."""
    for img_id, mask in masks.items():
        write_image(osp.join(root, 'JPEGImages', f'{img_id}.png'), height=4, width=4)
        write_mask(osp.join(root, 'SegmentationClass', f'{img_id}.png'), mask)
    write_text(osp.join(root, 'ImageSets', 'Segmentation', 'val.txt'), list(masks))
    return root


def seg_dataset(root, pipeline=SEG_PIPELINE, **kwargs):
    init_default_scope('wsss_toolbox')
    cfg = dict(type='PseudoLabelSegDataset', data_root=root, img_suffix='.png',
               ann_file='ImageSets/Segmentation/val.txt', metainfo=dict(classes=SEG_CLASSES),
               data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
               pipeline=pipeline, test_mode=True)
    cfg.update(kwargs)
    return DATASETS.build(cfg)


# ----------------------------------------------------------- stage 3 (mmseg LoadAnnotations)
def test_stage3_dataset_refuses_a_class_id_past_the_classes(tmp_path):
    root = seg_layout(str(tmp_path / 'voc'), dict(good=two_class_mask(4, 4, 2),
                                                  val_0003=bad_mask()))
    dataset = seg_dataset(root)
    assert dataset[0]['data_samples'].gt_sem_seg.data.max() == 255  # a valid mask passes
    path = osp.join(root, 'SegmentationClass', 'val_0003.png')
    with pytest.raises(ValueError) as error:
        dataset[1]
    assert str(error.value).startswith(
        f'mask {path} holds class id 230, but the dataset has 3 classes (0..2) and ignore '
        'index 255')


def test_stage3_dataset_lists_every_bad_id_under_test_time_aug(tmp_path):
    mask = bad_mask()
    mask[3, 0] = 3
    root = seg_layout(str(tmp_path / 'voc'), dict(val_0003=mask))
    tta = [dict(type='LoadImageFromFile'),
           dict(type='TestTimeAug',
                transforms=[[dict(type='Resize', scale_factor=r, keep_ratio=True)
                             for r in (1.0, 2.0)],
                            [dict(type='LoadAnnotations')], [dict(type='PackSegInputs')]])]
    with pytest.raises(ValueError, match=r'val_0003\.png holds class ids 3, 230, but the '
                       r'dataset has 3 classes'):
        seg_dataset(root, pipeline=tta)[0]


def test_stage3_pseudo_labels_are_checked_too(tmp_path):
    root = seg_layout(str(tmp_path / 'voc'), dict(a=two_class_mask(4, 4, 1)))
    pseudo_dir = str(tmp_path / 'pseudo')
    write_mask(osp.join(pseudo_dir, 'a.png'), bad_mask(value=7))
    dataset = seg_dataset(root, pseudo_label_dir=pseudo_dir, test_mode=False,
                          data_prefix=dict(img_path='JPEGImages'))
    with pytest.raises(ValueError, match=r"pseudo label .*pseudo/a\.png holds class id 7, "
                       r'but the dataset has 3 classes \(0\.\.2\)'):
        dataset[0]


def test_reduce_zero_label_is_checked_after_the_shift(tmp_path):
    """mmseg's shift: file 0 -> 255 (ignored), file v -> class v - 1, 255 stays ignored; so
    with 3 classes the file ids 1..3 are classes, 4 is not."""
    good = np.array([[0, 1, 2, 3]] * 3 + [[255] * 4], np.uint8)
    bad = good.copy()
    bad[0, 0] = 4
    bad[1, 0] = 231
    root = seg_layout(str(tmp_path / 'voc'), dict(good=good, bad=bad))
    dataset = seg_dataset(root, reduce_zero_label=True)
    gt = dataset[0]['data_samples'].gt_sem_seg.data[0].numpy()
    np.testing.assert_array_equal(gt[0], [255, 0, 1, 2])
    with pytest.raises(ValueError, match=r'bad\.png holds class ids 3, 230 \(after '
                       r'reduce_zero_label; 4, 231 in the file\), but the dataset has 3 '
                       r'classes \(0\.\.2\) and ignore index 255'):
        dataset[1]


# ------------------------------------------------------------------ stages 1-2 (toolbox)
def test_voc_labels_from_masks_name_the_mask_and_id(tmp_path):
    path = str(tmp_path / 'val_0003.png')
    write_mask(path, bad_mask(), palette=True)
    with pytest.raises(DatasetFormatError,
                       match=rf'^mask {path} holds class id 230, but the dataset has 21 '
                       r'classes \(0\.\.20\) and ignore index 255'):
        classes_in_mask(read_mask(path), 20, path)
    assert classes_in_mask(read_mask(path), 230, path) == [0, 229]


def test_image_label_datasets_check_the_mask_they_load(tmp_path):
    """COCO, LID, generic, CLS-LOC, VOC and the synthetic benchmark load their masks with
    LoadWSSSAnnotations: ids 0..C against the C classes of the item's gt_label."""
    root = tmp_path / 'generic'
    write_image(str(root / 'images' / 'a.jpg'), height=4, width=4)
    write_mask(str(root / 'masks' / 'a.png'), bad_mask(value=3))
    write_text(str(root / 'labels.txt'), ['a horse'])
    dataset = DATASETS.build(
        dict(type='GenericImageLabelDataset', data_root=str(root), ann_file='labels.txt',
             metainfo=dict(classes=('cat', 'horse')),
             data_prefix=dict(img_path='images', seg_map_path='masks'),
             pipeline=[dict(type='LoadImageWithCheck'), dict(type='LoadWSSSAnnotations'),
                       dict(type='PackWSSSInputs')]))
    path = str(root / 'masks' / 'a.png')
    with pytest.raises(ValueError, match=rf'^mask {path} holds class id 3, but the dataset '
                       r'has 3 classes \(0\.\.2\) and ignore index 255'):
        dataset[0]
    # an explicit num_classes (foreground) takes over from gt_label
    results = dict(dataset.get_data_info(0), img=np.zeros((4, 4, 3), np.uint8))
    assert LoadWSSSAnnotations(num_classes=3)(results)['gt_seg_map'].max() == 255


def test_sixteen_bit_mask_is_not_wrapped_to_a_valid_id(tmp_path):
    from PIL import Image
    path = str(tmp_path / 'deep.png')
    Image.fromarray(np.full((4, 4), 258, np.uint16)).save(path)  # 258 would wrap to 2
    results = dict(img_path=path, img=np.zeros((4, 4, 3), np.uint8), seg_map_path=path,
                   gt_label=np.zeros(20, np.float32), seg_fields=[])
    with pytest.raises(ValueError, match=r'deep\.png holds class id 258'):
        LoadWSSSAnnotations()(results)
