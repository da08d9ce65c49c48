"""Percent in files and tables (metrics_in_percent), ImageLabelMetric's results file and the
deprecated name MultiLabelMetric."""
import json
import math
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope

from wsss_toolbox.evaluation import (
    ConfusionMatrix,
    ImageLabelMetric,
    format_summary_table,
    metrics_in_percent,
    to_percent,
)
from wsss_toolbox.evaluation.classification_metric import RESULTS_FILE
from wsss_toolbox.registry import METRICS
from wsss_toolbox.utils import register_all_modules


def test_to_percent_rounds_like_mmseg():
    assert to_percent(0.151749) == 15.17 and to_percent(1) == 100.0
    assert to_percent([0.5, None]) == [50.0, None]
    assert math.isnan(to_percent(float('nan'))) and to_percent(None) is None


def test_metrics_in_percent_converts_api_results_only():
    counter = ConfusionMatrix(2, class_names=['background', 'a'])
    counter.update(np.array([[0, 1], [1, 1]]), np.array([[0, 0], [1, 1]]))
    metrics = counter.metrics()  # IoU: background 1/2, a 2/3
    step_results = dict(
        maps=dict(threshold_sweep=dict(thresholds=[0.25], miou_curve=[7 / 12],
                                       best_threshold=0.25, best_metrics=metrics),
                  precision_recall=dict(recall=0.25, precision=0.5, noise=0.5,
                                        per_class_recall=[0.25, float('nan')],
                                        per_class_precision=[0.5, 0.5], num_images=2)),
        labels=dict(ignored_fraction=0.125, eval=dict(metrics=metrics, ignored_fraction=0.1)),
        curve=dict(curve=np.array([0.5, 0.25]), peak_iou=0.5, peak_threshold=0,
                   num_images=1),
        # mmseg's IoUMetric and ImageLabelMetric report percent already: kept as they are
        test=dict(metrics=dict(aAcc=91.2, mIoU=14.71, mAcc=20.0)))
    report = metrics_in_percent(step_results)
    sweep = report['maps']['threshold_sweep']
    assert sweep['thresholds'] == [0.25] and sweep['best_threshold'] == 0.25
    assert sweep['miou_curve'] == [58.33]
    assert sweep['best_metrics']['IoU'] == [50.0, 66.67] and sweep['best_metrics']['mIoU'] == 58.33
    assert sweep['best_metrics']['aAcc'] == 75.0
    assert sweep['best_metrics']['class_names'] == ['background', 'a']
    pr = report['maps']['precision_recall']
    assert (pr['recall'], pr['precision'], pr['noise']) == (25.0, 50.0, 50.0)
    assert pr['per_class_recall'][0] == 25.0 and math.isnan(pr['per_class_recall'][1])
    assert pr['num_images'] == 2
    assert report['labels']['ignored_fraction'] == 12.5
    assert report['labels']['eval']['ignored_fraction'] == 10.0
    assert report['labels']['eval']['metrics']['mIoU'] == 58.33
    assert report['curve']['curve'] == [50.0, 25.0] and report['curve']['peak_iou'] == 50.0
    assert report['curve']['peak_threshold'] == 0
    assert report['test'] == step_results['test']
    assert step_results['maps']['precision_recall']['recall'] == 0.25  # not modified


def test_format_summary_table():
    table = format_summary_table(dict(written=3, seconds=1.234, options=dict(flip=False)),
                                 title='maps')
    assert 'maps' in table and '1.23' in table and 'flip=False' in table


def image_label_samples():
    return [dict(pred_scores=torch.tensor([.9, .2]), gt_label=torch.tensor([1., 0.]),
                 img_path='a.jpg'),
            dict(pred_scores=torch.tensor([.6, .7]), gt_label=torch.tensor([0., 1.]),
                 img_path='b.jpg')]


def test_image_label_metric_writes_its_results_to_output_dir(tmp_path):
    metric = ImageLabelMetric(threshold=0.5, output_dir=str(tmp_path))
    metric.dataset_meta = dict(classes=('cat', 'dog'))
    metric.process(None, image_label_samples())
    metrics = metric.compute_metrics(metric.results)
    with open(osp.join(str(tmp_path), RESULTS_FILE)) as f:
        written = json.load(f)
    assert written['metrics'] == dict(mAP=100.0, precision=66.67, recall=100.0, F1=80.0)
    assert written['metrics']['precision'] == pytest.approx(metrics['precision'], abs=0.005)
    assert written['classes'] == ['cat', 'dog'] and written['threshold'] == 0.5
    assert written['images'] == [
        dict(img_path='a.jpg', gt_label=[0], pred_label=[0], pred_scores=[0.9, 0.2]),
        dict(img_path='b.jpg', gt_label=[1], pred_label=[0, 1], pred_scores=[0.6, 0.7])]


def test_multi_label_metric_is_a_deprecated_name():
    register_all_modules(init_default_scope=False)
    with pytest.warns(DeprecationWarning, match="type='ImageLabelMetric'"):
        from wsss_toolbox.evaluation import MultiLabelMetric
    with pytest.warns(DeprecationWarning, match='renamed'):
        from wsss_toolbox.evaluation.classification_metric import MultiLabelMetric as same
    assert same is MultiLabelMetric and issubclass(MultiLabelMetric, ImageLabelMetric)
    with DefaultScope.overwrite_default_scope('wsss_toolbox'):
        with pytest.warns(DeprecationWarning, match="'MultiLabelMetric' is renamed"):
            metric = METRICS.build(dict(type='MultiLabelMetric', threshold=0.4))
        assert METRICS.get('ImageLabelMetric') is ImageLabelMetric
    assert isinstance(metric, ImageLabelMetric) and metric.threshold == 0.4
    metric.process(None, image_label_samples())
    assert metric.compute_metrics(metric.results)['mAP'] == 100
