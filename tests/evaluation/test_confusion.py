"""Confusion matrix metrics: hand-computed values and agreement with mmseg's IoUMetric."""
import json

import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.evaluation import IoUMetric
from mmseg.structures import SegDataSample

from wsss_toolbox.evaluation import (
    ConfusionMatrix,
    confusion_matrix,
    dump_metrics_json,
    format_metrics_table,
    to_jsonable,
)

GT = np.array([[0, 0, 1], [1, 2, 255]], np.uint8)
PRED = np.array([[0, 1, 1], [1, 2, 0]], np.uint8)


def test_hand_computed_matrix_and_metrics():
    matrix = confusion_matrix(PRED, GT, 3)
    assert matrix.dtype == np.int64
    assert matrix.tolist() == [[1, 1, 0], [0, 2, 0], [0, 0, 1]]  # GT 255 skipped
    metrics = ConfusionMatrix(3).update(PRED, GT).metrics()
    # IoU: bg 1 / (2 + 1 - 1), class 1: 2 / (2 + 3 - 2), class 2: 1 / 1
    np.testing.assert_allclose(metrics['IoU'], [0.5, 2 / 3, 1.0])
    np.testing.assert_allclose(metrics['Acc'], [0.5, 1.0, 1.0])
    np.testing.assert_allclose(metrics['Precision'], [1.0, 2 / 3, 1.0])
    assert metrics['mIoU'] == pytest.approx((0.5 + 2 / 3 + 1) / 3)
    assert metrics['mAcc'] == pytest.approx(2.5 / 3)
    assert metrics['aAcc'] == pytest.approx(4 / 5)


def test_ignored_predictions_count_as_misses():
    pred = PRED.copy()
    pred[0, 0] = 255  # a GT-background pixel left unlabelled
    counter = ConfusionMatrix(3).update(pred, GT)
    assert counter.matrix.tolist() == [[0, 1, 0], [0, 2, 0], [0, 0, 1]]
    assert counter.unassigned.tolist() == [1, 0, 0]
    missed = counter.metrics()  # bg: TP 0, gt 2 -> IoU 0, Acc 0
    assert missed['IoU'][0] == 0 and missed['aAcc'] == pytest.approx(3 / 5)
    labelled = counter.metrics(count_unassigned=False)  # only the 4 labelled pixels
    assert labelled['IoU'][0] == 0 and labelled['Acc'][0] == 0  # bg: gt 1, TP 0
    assert labelled['aAcc'] == pytest.approx(3 / 4)


def test_absent_class_is_nan_and_left_out_of_means():
    metrics = ConfusionMatrix(4).update(PRED, GT).metrics()
    assert np.isnan(metrics['IoU'][3])
    assert metrics['mIoU'] == pytest.approx((0.5 + 2 / 3 + 1) / 3)


def test_update_and_merge_equal_one_shot():
    rng = np.random.default_rng(0)
    preds = rng.integers(0, 5, (4, 9, 11))
    gts = rng.integers(0, 5, (4, 9, 11))
    one_shot = ConfusionMatrix(5).update(preds, gts)
    left, right = ConfusionMatrix(5), ConfusionMatrix(5)
    for pred, gt in zip(preds[:2], gts[:2]):
        left.update(pred, gt)
    for pred, gt in zip(preds[2:], gts[2:]):
        right.update(pred, gt)
    np.testing.assert_array_equal(left.merge(right).matrix, one_shot.matrix)
    with pytest.raises(ValueError, match='merge'):
        left.merge(ConfusionMatrix(3))


def test_out_of_range_ground_truth_is_an_error():
    with pytest.raises(ValueError, match=r'outside \[0, 3\)'):
        confusion_matrix(np.zeros((2, 2), np.uint8), np.full((2, 2), 7, np.uint8), 3)
    with pytest.raises(TypeError, match='integer'):
        confusion_matrix(np.zeros((2, 2)), np.zeros((2, 2), np.uint8), 3)


def test_same_numbers_as_mmseg_iou_metric():
    rng = np.random.default_rng(42)
    num_classes = 6
    names = [f'c{i}' for i in range(num_classes)]
    metric = IoUMetric(ignore_index=255)
    metric.dataset_meta = dict(classes=names)
    ours = ConfusionMatrix(num_classes, class_names=names)
    for _ in range(5):
        gt = rng.integers(0, num_classes - 1, (17, 23)).astype(np.uint8)  # class 5 never in GT
        pred = np.where(rng.random(gt.shape) < 0.6, gt,
                        rng.integers(0, num_classes - 1, gt.shape)).astype(np.uint8)
        gt[rng.random(gt.shape) < 0.1] = 255
        pred[rng.random(gt.shape) < 0.1] = 255  # unlabelled predictions
        sample = SegDataSample()
        sample.pred_sem_seg = PixelData(data=torch.from_numpy(pred)[None].long())
        sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt)[None].long())
        metric.process({}, [sample.to_dict()])
        ours.update(pred, gt)
    expected = metric.compute_metrics(metric.results)  # percentages, 2 decimals
    got = ours.metrics()
    for key in ('aAcc', 'mIoU', 'mAcc'):
        assert 100 * got[key] == pytest.approx(expected[key], abs=0.006), key


def test_table_and_json_helpers(tmp_path):
    metrics = ConfusionMatrix(4, class_names=['background', 'cat', 'dog', 'cow']).update(
        PRED, GT).metrics()
    table = format_metrics_table(metrics)
    assert 'cat' in table and 'cow' in table and 'mIoU: 72.22' in table
    assert to_jsonable(dict(a=np.float32(np.nan), b=[np.int64(3)])) == dict(a=None, b=[3])
    path = tmp_path / 'out' / 'metrics.json'
    dump_metrics_json(metrics, str(path))

    def reject(constant):
        raise ValueError(constant)

    loaded = json.loads(path.read_text(), parse_constant=reject)  # strict JSON, no NaN
    assert loaded['IoU'][3] is None and loaded['class_names'][1] == 'cat'
