"""The MCIS pipeline end to end on a tiny benchmark: stage 1 on pairs, the authors' fused
multi-round maps and the single-round maps of the same classifier, MCIS's saliency-guided
labels, DeepLab, test, summary."""
import json
import os
import os.path as osp

from conftest import PYTHON, run_tool


def tiny_options(data_root):
    loaders = ('train_dataloader', 'val_dataloader')
    return [f'data_root={data_root}', 'synthetic_benchmark.num_train=12',
            'synthetic_benchmark.num_val=4', 'synthetic_benchmark.image_size=48',
            'synthetic_benchmark.num_workers=1', 'eval_maps.nproc=1', 'pseudo_labels.nproc=1',
            'eval_maps_single.nproc=1', 'pseudo_labels_single.nproc=1',
            'stage1.cfg_options.train_cfg.max_epochs=1',
            'stage1.cfg_options.train_cfg.val_interval=1',
            'stage1.cfg_options.model.backbone.base_channels=8',
            'stage1.cfg_options.model.head.in_channels=32',
            'stage1.cfg_options.model.head.channels=16',
            'stage3.cfg_options.train_cfg.max_iters=2',
            'stage3_single.cfg_options.train_cfg.max_iters=2'] + [
        f'{stage}.cfg_options.{loader}.{key}' for stage in ('stage1', 'stage3', 'stage3_single')
        for loader in loaders for key in ('num_workers=0', 'persistent_workers=False')]


def test_mcis_pipeline_end_to_end(tmp_path):
    work_dir = str(tmp_path / 'mcis')
    proc = run_tool([PYTHON, 'tools/pipeline.py', 'configs/pipelines/mcis_synthetic.py',
                     '--work-dir', work_dir, '--cfg-options',
                     *tiny_options(str(tmp_path / 'data'))])
    log = proc.stdout + proc.stderr
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
