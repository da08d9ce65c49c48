"""The RPNet + IRN pipeline end to end on a tiny benchmark: RPNet's stage 1 on pairs, its map
inference (4 scales + flips, maps at stride 4), threshold + CRF labels, IRN seeds, boundary
network and random walk, DeepLab on the walked labels, test and summary."""
import json
import os
import os.path as osp

from conftest import PYTHON, run_tool


def tiny_options(data_root):
    loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
    return [f'data_root={data_root}', 'synthetic_benchmark.num_train=12',
            'synthetic_benchmark.num_val=4', 'synthetic_benchmark.image_size=48',
            'synthetic_benchmark.num_workers=1', 'eval_maps.nproc=1', 'pseudo_labels.nproc=1',
            'pseudo_labels_crf.nproc=1', 'irn_seeds.nproc=1', 'irn_labels.nproc=1',
            'stage1.cfg_options.train_cfg.max_epochs=1',
            'stage1.cfg_options.train_cfg.val_interval=1',
            'stage1.cfg_options.train_dataloader.batch_size=3',
            'irn_train.cfg_options.train_cfg.max_epochs=1',
            'irn_train.cfg_options.train_dataloader.batch_size=4',
            'irn_train.cfg_options.train_dataloader.num_workers=0',
            'irn_train.cfg_options.train_dataloader.persistent_workers=False',
            'stage3.cfg_options.train_cfg.max_iters=2'] + [
        f'{stage}.cfg_options.{loader}.{key}' for stage in ('stage1', 'stage3')
        for loader in loaders[:2 if stage == 'stage1' else 3]
        for key in ('num_workers=0', 'persistent_workers=False')]


def test_rpnet_irn_pipeline_end_to_end(tmp_path):
    work_dir = str(tmp_path / 'rpnet-irn')
    proc = run_tool([PYTHON, 'tools/pipeline.py', 'configs/pipelines/rpnet-irn_synthetic.py',
                     '--work-dir', work_dir, '--cfg-options',
                     *tiny_options(str(tmp_path / 'data'))])
    log = proc.stdout + proc.stderr
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
