"""The RPNet + IRN pipeline end to end on a tiny benchmark: RPNet's stage 1 on pairs, its map
inference (4 scales + flips, maps at stride 4), threshold + CRF labels, IRN seeds, boundary
network and random walk, DeepLab on the walked labels, test and summary."""
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
        extra=['stage1.cfg_options.train_dataloader.batch_size=3'] + IRN_TRAIN_TINY +
        QUICK_SUMMARY)


def test_rpnet_irn_pipeline_end_to_end(tmp_path, monkeypatch):
    skip_runner_env_and_config_text(monkeypatch)
    work_dir = str(tmp_path / 'rpnet-irn')
    log = run_ok('pipeline', ['configs/pipelines/rpnet-irn_synthetic.py', '--work-dir', work_dir,
                              '--verbose', '--cfg-options', *tiny_options(str(tmp_path / 'data'))])
    assert 'loss_similarity: ' in log  # RPNet's head trained on pairs
    assert 'step "maps": inferring maps of 12 train images' in log
    for step in ('maps', 'pseudo_labels_crf', 'irn_labels'):
        assert len([n for n in os.listdir(osp.join(work_dir, step))
                    if n.endswith(('.npz', '.png'))]) == 12, step
    with open(osp.join(work_dir, 'summary.json')) as f:
        summary = json.load(f)
    kinds = {(row['step'], row['kind']) for row in summary['rows']}
    assert {('eval_maps', 'maps'), ('irn_labels', 'labels'), ('test', 'segmentor')} <= kinds
    segmentor = next(row for row in summary['rows'] if row['kind'] == 'segmentor')
    assert segmentor['labels'] == 'irn_labels'  # DeepLab trained on the random-walk labels
    assert 'DeepLab val' in log
