"""tools/train.py, tools/test.py and torchrun on CPU with a tiny mmseg model."""
import json
import os
import os.path as osp
import shutil
import subprocess

import torch
from conftest import PYTHON, REPO_ROOT, run_tool

CONFIG = osp.join('tests', 'data', 'configs', 'tiny_segmentor.py')


def data_options(root):
    return ['--cfg-options'] + [f'{split}_dataloader.dataset.data_root={root}'
                                for split in ('train', 'val', 'test')]


def last_scalars(work_dir):
    """The per-iteration scalars mmengine logged (vis_data/scalars.json of the newest run)."""
    import glob
    runs = sorted(glob.glob(osp.join(work_dir, '2*', 'vis_data', 'scalars.json')))
    with open(runs[-1]) as f:
        return [json.loads(line) for line in f]


def test_train_checkpoint_resume_and_test(tiny_voc, tmp_path):
    work_dir = str(tmp_path / 'work')
    run_tool([PYTHON, 'tools/train.py', CONFIG, '--work-dir', work_dir] + data_options(tiny_voc))
    assert osp.isfile(osp.join(work_dir, 'iter_3.pth'))
    assert osp.isfile(osp.join(work_dir, 'iter_6.pth'))
    full_run = {r['step']: r['loss'] for r in last_scalars(work_dir) if 'loss' in r}
    assert sorted(full_run) == [1, 2, 3, 4, 5, 6]

    # resume from the middle checkpoint: continues at iteration 4 instead of starting over
    proc = run_tool([PYTHON, 'tools/train.py', CONFIG, '--work-dir', work_dir, '--resume',
                     osp.join(work_dir, 'iter_3.pth')] + data_options(tiny_voc))
    assert 'resumed epoch: 0, iter: 3' in proc.stdout + proc.stderr
    resumed = {r['step']: r['loss'] for r in last_scalars(work_dir) if 'loss' in r}
    assert sorted(resumed) == [4, 5, 6]
    ckpt = torch.load(osp.join(work_dir, 'iter_3.pth'), map_location='cpu', weights_only=False)
    assert ckpt['meta']['iter'] == 3

    # --resume without a path picks the latest checkpoint of the work dir
    proc = run_tool([PYTHON, 'tools/train.py', CONFIG, '--work-dir', work_dir, '--resume',
                     '--cfg-options', 'train_cfg.max_iters=7'] + data_options(tiny_voc)[1:])
    assert 'resumed epoch: 0, iter: 6' in proc.stdout + proc.stderr

    proc = run_tool([PYTHON, 'tools/test.py', CONFIG, osp.join(work_dir, 'iter_6.pth'),
                     '--work-dir', str(tmp_path / 'test')] + data_options(tiny_voc))
    assert 'mIoU' in proc.stdout + proc.stderr

    # a checkpoint that does not fit the model: an error naming it (before: mmengine warned,
    # then tested mostly random weights and exited 0), unless --partial-load
    ckpt['state_dict'] = {key: value for key, value in ckpt['state_dict'].items()
                          if not key.startswith('decode_head.')}
    other = str(tmp_path / 'backbone_only.pth')
    torch.save(ckpt, other)
    proc = subprocess.run([PYTHON, 'tools/test.py', CONFIG, other, '--work-dir',
                           str(tmp_path / 'test')] + data_options(tiny_voc), cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS='1'))
    assert proc.returncode != 0 and 'mIoU:' not in proc.stdout  # no test ran
    assert (f'Checkpoint file "{other}" does not fit the model of {CONFIG}:\n7 weight(s) of '
            'the model are missing: decode_head.conv_seg.weight') in proc.stderr
    proc = run_tool([PYTHON, 'tools/test.py', CONFIG, other, '--partial-load', '--work-dir',
                     str(tmp_path / 'test')] + data_options(tiny_voc))
    assert 'mIoU' in proc.stdout + proc.stderr

    # a copied work dir resumes from its own checkpoint, although last_checkpoint holds the
    # original's absolute path (before: it resumed from the original's file)
    copied = str(tmp_path / 'copied')
    shutil.copytree(work_dir, copied)
    proc = run_tool([PYTHON, 'tools/train.py', CONFIG, '--work-dir', copied, '--resume',
                     '--cfg-options', 'train_cfg.max_iters=8'] + data_options(tiny_voc)[1:])
    output = proc.stdout + proc.stderr
    assert f'{copied}/last_checkpoint names {work_dir}/iter_7.pth (another work dir); using ' \
           f'{copied}/iter_7.pth' in output
    assert f'Load checkpoint from {copied}/iter_7.pth' in output
    assert 'resumed epoch: 0, iter: 7' in output
    assert osp.isfile(osp.join(copied, 'iter_8.pth'))
    assert not osp.exists(osp.join(work_dir, 'iter_8.pth'))


def test_dist_train_script(tiny_voc, tmp_path):
    """As the README writes it: no PYTHON set, the project's .venv interpreter is used; two
    CPU processes train (DDP over gloo) and rank 0 saves a checkpoint of the trained model.
    (That two processes give one process's weights is checked per method, e.g.
    tests/methods/rpnet/test_rpnet_training.py.)"""
    from mmengine.config import Config
    from mmseg.registry import MODELS

    from wsss_toolbox.engine.checkpoint import load_model_checkpoint
    from wsss_toolbox.utils import register_all_modules
    work_dir = str(tmp_path / 'dist_sh')
    assert osp.isfile(osp.join(REPO_ROOT, '.venv', 'bin', 'python'))
    proc = run_tool(['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir', work_dir,
                     '--cfg-options', 'train_cfg.max_iters=3'] + data_options(tiny_voc)[1:],
                    env_extra={'PYTHON': '', 'PORT': '29534'})
    output = proc.stdout + proc.stderr
    assert 'Distributed training: True' in output
    assert "'world_size': 2" in output or 'world_size: 2' in output or 'GPU number: 2' in output
    ckpt = torch.load(osp.join(work_dir, 'iter_3.pth'), map_location='cpu', weights_only=False)
    assert ckpt['meta']['iter'] == 3
    # the saved weights fit the config's model exactly (no DDP 'module.' prefix) and moved
    register_all_modules()
    model = MODELS.build(Config.fromfile(osp.join(REPO_ROOT, CONFIG)).model)
    initial = {key: value.clone() for key, value in model.state_dict().items()}
    load_model_checkpoint(model, osp.join(work_dir, 'iter_3.pth'))
    trained = model.state_dict()
    assert any(not torch.equal(initial[key], trained[key]) for key in trained
               if key.endswith('weight'))


def test_missing_config_is_reported(tmp_path):
    import subprocess
    proc = subprocess.run([PYTHON, 'tools/train.py', 'configs/does_not_exist.py'], cwd=REPO_ROOT,
                          capture_output=True, text=True, env={'PYTHONPATH': REPO_ROOT})
    assert proc.returncode != 0
    assert 'configs/does_not_exist.py' in proc.stderr
