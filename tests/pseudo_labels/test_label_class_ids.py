"""The toolbox's label reader and the evaluators on it refuse values that are neither a class
id nor 255, naming the file, the ids and the number of classes."""
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from wsss_toolbox.evaluation import evaluate_labels
from wsss_toolbox.evaluation.lid import evaluate_peak_iou
from wsss_toolbox.maps.io import map_path, save_maps
from wsss_toolbox.pseudo_labels import load_label, save_label
from wsss_toolbox.pseudo_labels.label_io import out_of_range_ids


def mask_with(value, height=4, width=4):
    mask = np.zeros((height, width), np.uint8)
    mask[0] = 255
    mask[1, 1] = 1
    mask[2:, 2:] = value
    return mask


def test_out_of_range_ids_of_uint8_and_wider_masks():
    mask = mask_with(230)
    mask[3, 0] = 201
    assert out_of_range_ids(mask, 201) == [201, 230]
    assert out_of_range_ids(mask, 231) == []
    assert out_of_range_ids(mask.astype(np.int64), 201) == [201, 230]
    assert out_of_range_ids(mask, 201, ignore_index=0) == [201, 230, 255]


def test_load_label_checks_ids_only_when_given_the_classes(tmp_path):
    path = str(tmp_path / 'val_0003.png')
    save_label(path, mask_with(230))
    assert load_label(path).max() == 255  # no class count: read as it is
    with pytest.raises(ValueError, match=rf'^mask {path} holds class id 230, but the dataset '
                       r'has 201 classes \(0\.\.200\) and ignore index 255'):
        load_label(path, num_classes=201)
    assert load_label(path, num_classes=231).max() == 255


def test_load_label_refuses_a_sixteen_bit_value_it_would_wrap(tmp_path):
    path = str(tmp_path / 'deep.png')
    Image.fromarray(np.full((4, 4), 258, np.uint16)).save(path)
    with pytest.raises(ValueError, match=r'deep\.png holds values up to 258'):
        load_label(path)
    with pytest.raises(ValueError, match=r'deep\.png holds class id 258'):
        load_label(path, num_classes=21)


def test_label_evaluation_names_the_bad_ground_truth_and_pseudo_label(tmp_path):
    gt_path = str(tmp_path / 'gt' / 'x.png')
    label_dir = str(tmp_path / 'labels')
    save_label(gt_path, mask_with(2))
    save_label(osp.join(label_dir, 'x.png'), mask_with(2))
    samples = [dict(img_id='x', seg_map_path=gt_path)]
    assert evaluate_labels(samples, label_dir, 3)['metrics']['mIoU'] == pytest.approx(1.0)

    # a pseudo label past the classes used to count as an unlabelled pixel (a miss)
    save_label(osp.join(label_dir, 'x.png'), mask_with(7))
    with pytest.raises(ValueError, match=r'^pseudo label .*labels/x\.png holds class id 7, '
                       r'but the dataset has 3 classes \(0\.\.2\)'):
        evaluate_labels(samples, label_dir, 3)
    save_label(osp.join(label_dir, 'x.png'), mask_with(2))
    save_label(gt_path, mask_with(230))
    with pytest.raises(ValueError, match=rf'^mask {gt_path} holds class id 230, but the '
                       r'dataset has 3 classes'):
        evaluate_labels(samples, label_dir, 3)


def test_peak_iou_checks_class_masks_against_the_image_labels(tmp_path):
    gt_path = str(tmp_path / 'gt' / 'x.png')
    save_label(gt_path, mask_with(230))
    map_dir = str(tmp_path / 'maps')
    save_maps(map_path(map_dir, 'x'), 'x', np.array([0]), np.full((1, 4, 4), 0.5, np.float32))
    sample = dict(img_id='x', seg_map_path=gt_path, gt_label=np.array([1, 0], np.float32))
    with pytest.raises(ValueError, match=rf'^mask {gt_path} holds class id 230, but the '
                       r'dataset has 3 classes \(0\.\.2\)'):
        evaluate_peak_iou([sample], map_dir)
    # binary (track-3) masks: every nonzero value is foreground, nothing to check
    assert evaluate_peak_iou([sample], map_dir, mask_format='binary')['num_images'] == 1
