"""Stage-1 validation metric (mAP, precision/recall/F1 of the image labels)."""
import math

import numpy as np
import torch

from wsss_toolbox.evaluation import ImageLabelMetric, average_precision


def test_average_precision_by_hand():
    # ranking: pos, neg, pos -> precisions at hits 1/1 and 2/3 -> AP = (1 + 2/3) / 2
    assert math.isclose(average_precision(np.array([.9, .8, .7]), np.array([1, 0, 1])), 5 / 6)
    assert math.isnan(average_precision(np.array([.1, .2]), np.array([0, 0])))


def test_metric_from_data_samples():
    metric = ImageLabelMetric(threshold=0.5)
    metric.process(None, [
        dict(pred_scores=torch.tensor([.9, .2]), gt_label=torch.tensor([1., 0.])),
        dict(pred_scores=torch.tensor([.6, .7]), gt_label=torch.tensor([0., 1.])),
    ])
    result = metric.compute_metrics(metric.results)
    # class 0: scores .9 (pos), .6 (neg) -> AP 1; class 1: .7 (pos), .2 (neg) -> AP 1
    assert result['mAP'] == 100
    # predicted {0}, {0, 1}; true {0}, {1}: TP 2 of 3 predicted, 2 of 2 true
    assert math.isclose(result['precision'], 100 * 2 / 3)
    assert result['recall'] == 100
    assert math.isclose(result['F1'], 100 * 0.8)
