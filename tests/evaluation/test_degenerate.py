"""Degenerate results (empty maps, no predicted class) are warned about, healthy ones not."""
import os.path as osp
import runpy
import sys

import mmcv
import numpy as np
import torch
from conftest import REPO_ROOT

from evaluation.log_capture import logged_warnings
from wsss_toolbox.evaluation import ImageLabelMetric, evaluate_maps
from wsss_toolbox.evaluation.degenerate import (
    DEGENERATE_FRACTION,
    degenerate_message,
    maps_are_empty,
)
from wsss_toolbox.maps import map_path, save_maps


def test_the_rule():
    assert DEGENERATE_FRACTION == 0.5
    assert '3 of 4 images (75 %) are odd; look' in degenerate_message(3, 4, 'are odd', 'look')
    assert degenerate_message(2, 4, 'are odd') is None  # half is not most
    assert degenerate_message(0, 0, 'are odd') is None
    assert maps_are_empty(np.zeros((2, 3, 3))) and maps_are_empty(np.zeros((0, 3, 3)))
    assert maps_are_empty(np.full((1, 2, 2), 1e-8)) and maps_are_empty(np.full((1, 2, 2), np.nan))
    assert not maps_are_empty(np.array([[[0, 0.2]], [[0, 0]]]))


def write_maps(root, peaks):
    """One 4x4 image per peak: class 0 is a square of that peak (0: an all-zero map)."""
    samples = []
    for index, peak in enumerate(peaks):
        img_id = f'im{index}'
        maps = np.zeros((1, 4, 4), np.float32)
        maps[0, 1:3, 1:3] = peak
        save_maps(map_path(osp.join(root, 'maps'), img_id), img_id, np.array([0]), maps)
        gt = np.zeros((4, 4), np.uint8)
        gt[1:3, 1:3] = 1
        gt_path = osp.join(root, 'gt', f'{img_id}.png')
        mmcv.imwrite(gt, gt_path)
        samples.append(dict(img_id=img_id, img_path=None, seg_map_path=gt_path))
    return samples, osp.join(root, 'maps')


def test_sweep_of_mostly_empty_maps_warns_naming_the_folder(tmp_path):
    samples, map_dir = write_maps(str(tmp_path), [0, 0, 0, 0.9])
    with logged_warnings() as logged:
        result = evaluate_maps(samples, map_dir, num_classes=2, thresholds=[0.1, 0.5])
    assert result['num_empty'] == 3 and len(result['warnings']) == 1
    message = result['warnings'][0]
    assert f'"{map_dir}"' in message and '3 of 4 images (75 %)' in message
    assert 'background only' in message and 'check the classifier' in message
    assert logged == [message]


def test_sweep_of_healthy_maps_says_nothing(tmp_path):
    samples, map_dir = write_maps(str(tmp_path), [0, 0.8, 0.9, 1.0])  # one empty: fine
    with logged_warnings() as logged:
        result = evaluate_maps(samples, map_dir, num_classes=2, thresholds=[0.1, 0.5], nproc=2)
    assert result['num_empty'] == 1 and result['warnings'] == [] and logged == []


def test_eval_maps_tool_repeats_the_warning_last(tmp_path, monkeypatch, capsys):
    samples, map_dir = write_maps(str(tmp_path), [0, 0, 0.9])
    for sample in samples:
        mmcv.imwrite(np.zeros((4, 4, 3), np.uint8), str(tmp_path / 'img' / sample['img_id'])
                     + '.png')
    monkeypatch.setattr(sys, 'argv', [
        'eval_maps.py', map_dir, '--img-dir', str(tmp_path / 'img'), '--img-suffix', '.png',
        '--seg-dir', str(tmp_path / 'gt'), '--num-classes', '2', '--thresholds', '0.1',
        '--out-json', str(tmp_path / 'eval.json')])
    runpy.run_path(osp.join(REPO_ROOT, 'tools', 'eval_maps.py'), run_name='__main__')
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith('WARNING: 2 of 3 images (67 %) have empty maps in')
    assert f'"{map_dir}"' in last


def classification_metric(scores, labels):
    metric = ImageLabelMetric(threshold=0.5)
    metric.process(None, [dict(pred_scores=torch.tensor(s), gt_label=torch.tensor(lab))
                          for s, lab in zip(scores, labels)])
    with logged_warnings() as logged:
        metric.compute_metrics(metric.results)
    return logged


def test_classification_metric_warns_when_no_class_is_predicted():
    # a classifier with zeroed weights and bias scores sigmoid(0) = 0.5 everywhere
    labels = [[1., 0.], [0., 1.], [1., 1.], [0., 0.]]  # the unlabelled image is not counted
    logged = classification_metric([[0.5, 0.5]] * 4, labels)
    assert len(logged) == 1
    assert '3 of 3 images (100 %)' in logged[0] and 'no score above 0.5' in logged[0]
    assert 'ImageLabelMetric' in logged[0] and 'schedule' in logged[0]
    assert classification_metric([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.1, 0.1]],
                                 labels) == []
