"""What the stage-2 tools write: JSON in percent (two decimals, as mmseg), equal to 100 x the
fractions the Python API returns; infer_maps writes a summary JSON too. The tools run
in-process (``main(argv)``) on tiny data."""
import json
import os.path as osp
import runpy

import pytest
import torch
from conftest import REPO_ROOT
from mmengine.config import Config
from pseudo_labels.stage2_data import write_stage2_data
from tiny_benchmark import dataset_cfg, write_gt_maps, write_stage2_config, write_tiny_benchmark

from wsss_toolbox.evaluation import (
    evaluate_labels,
    evaluate_maps,
    map_precision_recall,
    maps_iou_curve,
)
from wsss_toolbox.pseudo_labels import samples_from_dataset_cfg

STAGE1 = osp.join(REPO_ROOT, 'configs', 'cam', 'cam_tiny_1xb16-8e_synthetic-128x128.py')
NUM_TRAIN = 3


def tool_main(name: str):
    return runpy.run_path(osp.join(REPO_ROOT, 'tools', *name.split('/')) + '.py')['main']


def folder_args(root: str) -> list:
    return ['--img-dir', osp.join(root, 'images'), '--seg-dir', osp.join(root, 'gt'),
            '--num-classes', '4']


def percent_of(fraction):
    """What a file holds for an API fraction: 100 x, two decimals (NaN: null)."""
    if isinstance(fraction, list):
        return [percent_of(value) for value in fraction]
    return None if fraction != fraction else pytest.approx(100 * fraction, abs=0.005)


@pytest.fixture(scope='module')
def bench(tmp_path_factory):
    """The tiny synthetic benchmark (saliency maps included) and good map files of its
    training images."""
    root = str(tmp_path_factory.mktemp('bench'))
    write_tiny_benchmark(root, num_train=NUM_TRAIN, num_val=1)
    write_gt_maps(root, osp.join(root, 'maps'))
    return root


@pytest.fixture(scope='module')
def stage2(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('stage2'))
    samples = write_stage2_data(root, num_images=3)
    return root, samples


def test_eval_maps_writes_percent(stage2, tmp_path):
    root, samples = stage2
    out_json = str(tmp_path / 'maps_eval.json')
    tool_main('eval_maps')([osp.join(root, 'maps'), *folder_args(root), '--thresholds', '0.2',
                            '0.4', '--out-json', out_json])
    with open(out_json) as f:
        report = json.load(f)
    map_dir = osp.join(root, 'maps')
    sweep = evaluate_maps(samples, map_dir, 4, [0.2, 0.4])
    best, written = sweep['best_metrics'], report['threshold_sweep']['best_metrics']
    assert written['mIoU'] > 1 and written['mIoU'] == percent_of(best['mIoU'])
    for key in ('aAcc', 'mAcc', 'IoU', 'Acc', 'Precision'):
        assert written[key] == percent_of(best[key]), key
    assert report['threshold_sweep']['miou_curve'] == percent_of(sweep['miou_curve'])
    assert report['threshold_sweep']['thresholds'] == [0.2, 0.4]  # scores, not percent
    pr = map_precision_recall(samples, map_dir, 4)
    for key in ('recall', 'precision', 'noise', 'per_class_recall'):
        assert report['precision_recall'][key] == percent_of(pr[key]), key
    curve = maps_iou_curve(samples, map_dir)
    assert report['lid_curve']['peak_iou'] > 1
    assert report['lid_curve']['peak_iou'] == percent_of(curve['peak_iou'])
    assert report['lid_curve']['curve'] == percent_of(curve['curve'].tolist())
    assert report['lid_curve']['peak_threshold'] == curve['peak_threshold']


def test_make_pseudo_labels_and_eval_labels_write_percent(bench, tmp_path):
    label_dir = str(tmp_path / 'labels')
    config = write_stage2_config(str(tmp_path / 'stage2.py'), bench, osp.join(bench, 'maps'),
                                 label_dir, generator="dict(type='SaliencyLabelGenerator')")
    tool_main('make_pseudo_labels')([config])
    with open(label_dir + '_summary.json') as f:
        summary = json.load(f)
    fraction = summary['num_ignored_pixels'] / summary['num_pixels']
    assert summary['num_written'] > 0 and summary['ignored_fraction'] > 1
    assert summary['ignored_fraction'] == percent_of(fraction)

    out_json = str(tmp_path / 'labels_eval.json')
    tool_main('eval_labels')([label_dir, '--config', config, '--out-json', out_json])
    with open(out_json) as f:
        report = json.load(f)
    samples, _ = samples_from_dataset_cfg(dataset_cfg(bench))
    result = evaluate_labels(samples, label_dir, len(report['metrics']['class_names']))
    assert report['metrics']['mIoU'] > 1
    for part in ('metrics', 'metrics_labelled'):
        for key in ('mIoU', 'aAcc', 'mAcc', 'mPrecision', 'IoU', 'Acc', 'Precision'):
            assert report[part][key] == percent_of(result[part][key]), (part, key)
    assert report['ignored_fraction'] == percent_of(result['ignored_fraction'])
    assert report['confusion_matrix'] == result['confusion_matrix']  # pixel counts


def test_infer_maps_writes_a_summary_json(bench, tmp_path):
    from wsss_toolbox.registry import MODELS
    from wsss_toolbox.utils import register_all_modules
    config = tmp_path / 'stage1.py'
    config.write_text(f'_base_ = [{STAGE1!r}]\n'
                      'model = dict(head=dict(num_classes=3))\n'
                      f'train_dataloader = dict(dataset=dict(data_root={bench!r}))\n'
                      'map_inference = dict(scales=(1.0, ), flip=False)\n')
    register_all_modules(init_default_scope=True)
    checkpoint = str(tmp_path / 'stage1.pth')
    torch.save(dict(state_dict=MODELS.build(Config.fromfile(str(config)).model).state_dict()),
               checkpoint)
    out_dir = str(tmp_path / 'maps')
    main = tool_main('infer_maps')
    main([str(config), checkpoint, '--out-dir', out_dir, '--fusion', 'max'])
    with open(out_dir + '_summary.json') as f:
        summary = json.load(f)
    assert summary['written'] == NUM_TRAIN and summary['skipped'] == 0
    assert summary['world_size'] == 1 and summary['seconds'] > 0
    assert summary['bytes_per_image'] > 0 and summary['images_per_second'] > 0
    assert summary['options'] == dict(scales=[1.0], flip=False, fusion='max')
    assert summary['checkpoint'] == checkpoint and summary['split'] == 'train'
    main([str(config), checkpoint, '--out-dir', out_dir])  # resumed: every map is there
    with open(out_dir + '_summary.json') as f:
        assert json.load(f)['skipped'] == NUM_TRAIN


def test_collect_results_writes_percent_with_two_decimals(tmp_path, monkeypatch):
    rows = [dict(kind='maps', step='eval_maps', mIoU=48.123456, best_threshold=0.25),
            dict(kind='maps_recall', step='eval_maps', value=61.0049),
            dict(kind='maps_precision', step='eval_maps', value=55.5),
            dict(kind='labels', step='labels', mIoU=50.006, ignored=12.3456),
            dict(kind='segmentor', step='test', mIoU=52.999, labels='labels')]
    work_dir = tmp_path / 'cam'
    work_dir.mkdir()
    (work_dir / 'summary.json').write_text(json.dumps(dict(rows=rows)))
    out = str(tmp_path / 'results.json')
    monkeypatch.setattr('sys.argv', ['collect_results.py', str(work_dir), '--out', out])
    tool_main('analysis/collect_results')()
    with open(out) as f:
        row, = json.load(f)
    assert row['map_miou'] == 48.12 and row['recall'] == 61.0 and row['ignored'] == 12.35
    assert row['deeplab_miou'] == 53.0 and row['best_threshold'] == 0.25


def test_pipeline_summary_gives_the_step_results_in_percent(tmp_path, monkeypatch):
    from pipeline.test_summary_warnings import run_map_steps
    runner, results, _ = run_map_steps(tmp_path, monkeypatch, 1.0)
    with open(runner.path('summary.json')) as f:
        summary = json.load(f)
    result, written = results['eval_maps'], summary['steps']['eval_maps']
    best = result['threshold_sweep']['best_metrics']  # the step's record: fractions
    assert written['threshold_sweep']['best_metrics']['mIoU'] > 1
    for key in ('mIoU', 'aAcc', 'IoU'):
        assert written['threshold_sweep']['best_metrics'][key] == percent_of(best[key])
    assert written['precision_recall']['recall'] == percent_of(
        result['precision_recall']['recall'])
    row = next(row for row in summary['rows'] if row['kind'] == 'maps')
    assert row['mIoU'] == pytest.approx(written['threshold_sweep']['best_metrics']['mIoU'],
                                        abs=0.005)
