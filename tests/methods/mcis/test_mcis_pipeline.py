"""The MCIS pipeline end to end on a tiny benchmark: stage 1 on pairs, the authors' fused
multi-round maps and the single-round maps of the same classifier, MCIS's saliency-guided
labels, DeepLab, test, summary."""
import json
import os
import os.path as osp

from tiny_benchmark import QUICK_SUMMARY, skip_runner_env_and_config_text, tiny_pipeline_options
from tool_runs import run_ok


def tiny_options(data_root):
    return tiny_pipeline_options(
        data_root, iter_stages=('stage3', 'stage3_single'),
        nproc_steps=('eval_maps', 'pseudo_labels', 'eval_maps_single', 'pseudo_labels_single'),
        extra=['stage1.cfg_options.model.backbone.base_channels=8',
               'stage1.cfg_options.model.head.in_channels=32',
               'stage1.cfg_options.model.head.channels=16'] + QUICK_SUMMARY)


def test_mcis_pipeline_end_to_end(tmp_path, monkeypatch):
    skip_runner_env_and_config_text(monkeypatch)
    work_dir = str(tmp_path / 'mcis')
    log = run_ok('pipeline', ['configs/pipelines/mcis_synthetic.py', '--work-dir', work_dir,
                              '--verbose', '--cfg-options', *tiny_options(str(tmp_path / 'data'))])
    assert 'loss_co_att: ' in log and 'loss_self_basic: ' in log
    assert 'inferring MCIS maps (fusion) of 12 train images' in log
    assert 'inferring MCIS maps (single_round) of 12 train images' in log
    for step in ('maps', 'pseudo_labels', 'maps_single', 'pseudo_labels_single'):
        assert len(os.listdir(osp.join(work_dir, step))) >= 12, step
    with open(osp.join(work_dir, 'summary.json')) as f:
        summary = json.load(f)
    assert summary['steps']['maps']['images_per_s'] > 0
    rows = {row['step'] for row in summary['rows'] if row['kind'] == 'labels'}
    assert rows == {'pseudo_labels', 'pseudo_labels_single'}
    assert log.count('DeepLab val') >= 2
