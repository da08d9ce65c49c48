"""The CAM + IRN pipeline end to end on a tiny benchmark (stage 1, maps at stride 4, seeds,
boundary network, random walk, DeepLab, summary)."""
import json
import os
import os.path as osp

from tiny_benchmark import (
    IRN_TRAIN_TINY,
    QUICK_SUMMARY,
    skip_runner_env_and_config_text,
    tiny_pipeline_options,
)
from tool_runs import run_ok


def tiny_options(data_root):
    return tiny_pipeline_options(
        data_root, nproc_steps=('eval_maps', 'pseudo_labels', 'pseudo_labels_crf', 'irn_seeds',
                                'irn_labels'),
        extra=IRN_TRAIN_TINY + QUICK_SUMMARY + [
            # 48 px images: a 12x12 grid has no source pixel of the authors' pairs at
            # radius 10 (it needs 19 columns); radius 4 keeps the default pair rules
            'irn_train.cfg_options.model.radius=4'])


def test_cam_irn_pipeline_end_to_end(tmp_path, monkeypatch):
    skip_runner_env_and_config_text(monkeypatch)
    work_dir = str(tmp_path / 'cam-irn')
    data_root = str(tmp_path / 'data')
    log = run_ok('pipeline', ['configs/pipelines/cam-irn_synthetic.py', '--work-dir', work_dir,
                              '--verbose', '--cfg-options', *tiny_options(data_root)])
    assert 'loss_pos: ' in log and 'loss_neg: ' in log  # the boundary network trained
    assert 'no source pixel' not in log  # ... on labelled pairs
    assert 'step "irn_labels": random walk of 12 of 12 images' in log
    for step in ('irn_seeds', 'irn_labels'):
        names = os.listdir(osp.join(work_dir, step))
        assert len([n for n in names if n.endswith('.png')]) == 12, step
        assert 'labelled_images.txt' in names
    with open(osp.join(work_dir, 'summary.json')) as f:
        summary = json.load(f)
    rows = {row['step']: row for row in summary['rows']}
    assert rows['irn_labels']['kind'] == 'labels' and rows['irn_labels']['mIoU'] >= 0
    assert rows['test']['labels'] == 'irn_labels'  # DeepLab trained on the walked labels
    walk = summary['steps']['irn_labels']
    assert walk['num_written'] == 12 and walk['images_per_second'] > 0

