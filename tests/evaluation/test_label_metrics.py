"""Pseudo-label evaluation against ground truth."""
import os.path as osp

import mmcv
import numpy as np
import pytest

from wsss_toolbox.evaluation import evaluate_labels
from wsss_toolbox.pseudo_labels import save_label


def test_hand_computed_with_ignored_pixels(tmp_path):
    gt = np.array([[0, 0, 1], [1, 2, 255]], np.uint8)
    label = np.array([[255, 1, 1], [1, 2, 255]], np.uint8)
    gt_path = str(tmp_path / 'gt' / 'x.png')
    mmcv.imwrite(gt, gt_path)
    save_label(str(tmp_path / 'labels' / 'x.png'), label)
    result = evaluate_labels([dict(img_id='x', seg_map_path=gt_path)],
                             str(tmp_path / 'labels'), 3, ['background', 'a', 'b'])
    assert result['ignored_fraction'] == pytest.approx(2 / 6)
    assert result['unassigned'] == [1, 0, 0]  # the GT-ignored pixel is not counted
    metrics = result['metrics']  # bg: TP 0 (one missed, one wrong) -> IoU 0
    np.testing.assert_allclose(metrics['IoU'], [0.0, 2 / 3, 1.0])
    assert metrics['aAcc'] == pytest.approx(3 / 5)
    labelled = result['metrics_labelled']
    assert labelled['aAcc'] == pytest.approx(3 / 4)
    assert result['num_images'] == 1


def test_missing_label_names_the_file(tmp_path):
    gt_path = str(tmp_path / 'gt.png')
    mmcv.imwrite(np.zeros((2, 2), np.uint8), gt_path)
    with pytest.raises(FileNotFoundError, match=osp.join('labels', 'y.png')):
        evaluate_labels([dict(img_id='y', seg_map_path=gt_path)], str(tmp_path / 'labels'), 2)
