"""Map steps put their degenerate-result warnings in their results; the summary lists them
after the table (and in summary.json)."""
import json
import os.path as osp

import mmcv
import numpy as np
import pytest
from conftest import REPO_ROOT
from evaluation.log_capture import logged_warnings
from maps.test_degenerate_warnings import ConstantModel

from wsss_toolbox.pipeline import PipelineRunner, load_pipeline_config
from wsss_toolbox.pipeline.steps import format_warnings
from wsss_toolbox.utils import register_all_modules

CONFIG = osp.join(REPO_ROOT, 'configs', 'pipelines', 'cam_synthetic.py')


def samples_with_masks(root, count=3):
    samples = []
    for index in range(count):
        image = np.zeros((6, 8, 3), np.uint8)
        image[1:4, 2:6, 2] = 200
        mask = np.zeros((6, 8), np.uint8)
        mask[1:4, 2:6] = 1
        img_path, seg_path = (osp.join(root, kind, f'im{index}.png') for kind in ('img', 'gt'))
        mmcv.imwrite(image, img_path)
        mmcv.imwrite(mask, seg_path)
        samples.append(dict(img_id=f'im{index}', img_path=img_path, seg_map_path=seg_path,
                            gt_label=np.array([1., 0.])))
    return samples


def run_map_steps(tmp_path, monkeypatch, value):
    """The maps, eval_maps and summary steps of the demo on three tiny images, with a stub
    classifier whose maps are ``value`` x the red channel (0: all zero)."""
    register_all_modules()
    cfg = load_pipeline_config(CONFIG, {'summary.figure': None, 'summary.report': False,
                                        'summary.steps': ['maps', 'eval_maps']})
    runner = PipelineRunner(cfg, str(tmp_path / 'work'))
    samples = samples_with_masks(str(tmp_path / 'data'))
    maps = runner.step('maps')
    monkeypatch.setattr(maps, 'build_model', lambda: ConstantModel(value))
    monkeypatch.setattr(maps, 'samples', lambda: (samples, ['a', 'b']))
    results = {}
    monkeypatch.setattr(runner, 'result', lambda name: results[name])
    with logged_warnings() as logged:
        for name in ('maps', 'eval_maps', 'summary'):
            results[name] = runner.step(name).run()
    return runner, results, logged


def test_empty_maps_reach_the_summary(tmp_path, monkeypatch):
    runner, results, logged = run_map_steps(tmp_path, monkeypatch, 0.0)
    map_dir = runner.step('maps').out_dir
    for name in ('maps', 'eval_maps'):
        assert len(results[name]['warnings']) == 1
        assert f'"{map_dir}"' in results[name]['warnings'][0]
        assert '3 of 3 images (100 %)' in results[name]['warnings'][0]
    warnings = results['summary']['warnings']
    assert [w.split(':')[0] for w in warnings] == ['step "maps"', 'step "eval_maps"']
    section = format_warnings(warnings)
    assert section.startswith('warnings (2)') and section in logged
    with open(runner.path('summary.json')) as f:
        assert json.load(f)['warnings'] == warnings


def test_healthy_maps_leave_the_summary_clean(tmp_path, monkeypatch):
    runner, results, logged = run_map_steps(tmp_path, monkeypatch, 1.0)
    assert results['maps']['warnings'] == results['eval_maps']['warnings'] == []
    assert results['summary']['warnings'] == [] and logged == []
    assert format_warnings([]) == ''
    assert results['eval_maps']['threshold_sweep']['best_metrics']['mIoU'] == pytest.approx(1)
