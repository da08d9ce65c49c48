"""Command-line tools of stage 2: make_pseudo_labels, eval_labels, eval_maps, the benchmark.

make_pseudo_labels, eval_labels and eval_maps run here through their ``main``
(tests/tool_runs.py); their command lines run as a user types them in tests/test_readme.py.
The benchmark script runs as a command (its only test)."""
import json
import os
import os.path as osp
import re

import numpy as np
from conftest import PYTHON, run_tool
from tool_runs import run_ok

from wsss_toolbox.pseudo_labels import (
    DenseCRFRefiner,
    ThresholdLabelGenerator,
    load_label,
    make_sample_pseudo_label,
)

from .stage2_data import write_stage2_data

CONFIG = """
dataset = dict(type='BaseSegDataset', data_root={root!r},
               data_prefix=dict(img_path='images', seg_map_path='gt'),
               img_suffix='.jpg', seg_map_suffix='.png',
               metainfo=dict(classes=('background', 'a', 'b', 'c')))
map_dir = {root!r} + '/maps'
label_dir = {root!r} + '/labels'
generator = dict(type='ThresholdLabelGenerator', bg_threshold=0.4)
refiners = [dict(type='DenseCRFRefiner', iterations=2)]
nproc = 2
"""


def test_make_and_evaluate_pseudo_labels(tmp_path):
    root = str(tmp_path / 'data')
    samples = write_stage2_data(root, num_images=4)
    config = tmp_path / 'stage2.py'
    config.write_text(CONFIG.format(root=root))
    output = run_ok('make_pseudo_labels', [str(config)])
    assert re.search(r'labels written\s*\|\s*4\s*\|', output)  # the summary table
    label_dir = osp.join(root, 'labels')
    expected = make_sample_pseudo_label(samples[2], osp.join(root, 'maps'),
                                 ThresholdLabelGenerator(0.4), [DenseCRFRefiner(iterations=2)])
    np.testing.assert_array_equal(load_label(osp.join(label_dir, 'img02.png')), expected)
    assert json.load(open(osp.join(root, 'labels_summary.json')))['num_written'] == 4

    output = run_ok('eval_labels', [label_dir, '--img-dir', osp.join(root, 'images'),
                                    '--seg-dir', osp.join(root, 'gt'), '--num-classes', '4'])
    assert 'mIoU' in output and 'class2' in output
    report = json.load(open(osp.join(root, 'labels_eval.json')))
    assert report['num_images'] == 4 and report['metrics']['mIoU'] > 50  # percent


def test_eval_maps_tool_with_dataset_config(tmp_path):
    root = str(tmp_path / 'data')
    write_stage2_data(root, num_images=3)
    config = tmp_path / 'stage2.py'
    config.write_text(CONFIG.format(root=root))
    out_json = str(tmp_path / 'maps_eval.json')
    output = run_ok('eval_maps', [osp.join(root, 'maps'), '--config', str(config),
                                  '--thresholds', '0.2', '0.4', '--out-json', out_json])
    assert 'best threshold' in output and 'Peak-IoU' in output
    report = json.load(open(out_json))
    assert report['threshold_sweep']['thresholds'] == [0.2, 0.4]
    assert report['threshold_sweep']['best_metrics']['class_names'][1] == 'a'
    assert len(report['lid_curve']['curve']) == 256


def test_benchmark_script_runs(tmp_path):
    work_dir = str(tmp_path / 'bench')
    proc = run_tool([PYTHON, 'tools/analysis/benchmark_stage2.py', '--work-dir', work_dir,
                     '--simple-data', '--num-images', '6', '--image-size', '32'])
    lines = [line for line in proc.stdout.splitlines() if line.strip().startswith('saliency')]
    assert len(lines) == 4  # CRF no/yes x nproc 1/2
    assert sorted(name for name in os.listdir(osp.join(work_dir, 'labels_saliency_crf1_nproc2'))
                  if name.endswith('.png')) == [f'simple{index:05d}.png' for index in range(6)]
