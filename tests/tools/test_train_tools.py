"""tools/train.py and tools/test.py on CPU with a tiny mmseg model.

The tools run here through their ``main`` (tests/tool_runs.py); their command lines run as a
user types them in tests/packaging/test_mim_commands.py (mim train / mim test call
``python .../tools/train.py ...``)."""
import glob
import json
import os.path as osp
import shutil

import torch
from tool_runs import run_main, run_ok

CONFIG = osp.join('tests', 'data', 'configs', 'tiny_segmentor.py')


def data_options(root):
    return ['--cfg-options'] + [f'{split}_dataloader.dataset.data_root={root}'
                                for split in ('train', 'val', 'test')]


def last_scalars(work_dir):
    """The per-iteration scalars mmengine logged (vis_data/scalars.json of the newest run)."""
    runs = sorted(glob.glob(osp.join(work_dir, '2*', 'vis_data', 'scalars.json')))
    with open(runs[-1]) as f:
        return [json.loads(line) for line in f]


def test_train_checkpoint_resume_and_test(tiny_voc, tmp_path):
    work_dir = str(tmp_path / 'work')
    run_ok('train', [CONFIG, '--work-dir', work_dir] + data_options(tiny_voc))
    assert osp.isfile(osp.join(work_dir, 'iter_3.pth'))
    assert osp.isfile(osp.join(work_dir, 'iter_6.pth'))
    full_run = {r['step']: r['loss'] for r in last_scalars(work_dir) if 'loss' in r}
    assert sorted(full_run) == [1, 2, 3, 4, 5, 6]

    # resume from the middle checkpoint: continues at iteration 4 instead of starting over
    output = run_ok('train', [CONFIG, '--work-dir', work_dir, '--resume',
                              osp.join(work_dir, 'iter_3.pth')] + data_options(tiny_voc))
    assert 'resumed epoch: 0, iter: 3' in output
    resumed = {r['step']: r['loss'] for r in last_scalars(work_dir) if 'loss' in r}
    assert sorted(resumed) == [4, 5, 6]
    ckpt = torch.load(osp.join(work_dir, 'iter_3.pth'), map_location='cpu', weights_only=False)
    assert ckpt['meta']['iter'] == 3

    # --resume without a path picks the latest checkpoint of the work dir
    output = run_ok('train', [CONFIG, '--work-dir', work_dir, '--resume', '--cfg-options',
                              'train_cfg.max_iters=7'] + data_options(tiny_voc)[1:])
    assert 'resumed epoch: 0, iter: 6' in output

    output = run_ok('test', [CONFIG, osp.join(work_dir, 'iter_6.pth'), '--work-dir',
                             str(tmp_path / 'test')] + data_options(tiny_voc))
    assert 'mIoU' in output

    # a checkpoint that does not fit the model: an error naming it (before: mmengine warned,
    # then tested mostly random weights and exited 0), unless --partial-load
    ckpt['state_dict'] = {key: value for key, value in ckpt['state_dict'].items()
                          if not key.startswith('decode_head.')}
    other = str(tmp_path / 'backbone_only.pth')
    torch.save(ckpt, other)
    status, output = run_main('test', [CONFIG, other, '--work-dir', str(tmp_path / 'test')]
                              + data_options(tiny_voc))
    assert status != 0 and 'mIoU:' not in output  # no test ran
    assert (f'Checkpoint file "{other}" does not fit the model of {CONFIG}:\n7 weight(s) of '
            'the model are missing: decode_head.conv_seg.weight') in output
    output = run_ok('test', [CONFIG, other, '--partial-load', '--work-dir',
                             str(tmp_path / 'test')] + data_options(tiny_voc))
    assert 'mIoU' in output

    # a copied work dir resumes from its own checkpoint, although last_checkpoint holds the
    # original's absolute path (before: it resumed from the original's file)
    copied = str(tmp_path / 'copied')
    shutil.copytree(work_dir, copied)
    output = run_ok('train', [CONFIG, '--work-dir', copied, '--resume', '--cfg-options',
                              'train_cfg.max_iters=8'] + data_options(tiny_voc)[1:])
    assert f'{copied}/last_checkpoint names {work_dir}/iter_7.pth (another work dir); using ' \
           f'{copied}/iter_7.pth' in output
    assert f'Load checkpoint from {copied}/iter_7.pth' in output
    assert 'resumed epoch: 0, iter: 7' in output
    assert osp.isfile(osp.join(copied, 'iter_8.pth'))
    assert not osp.exists(osp.join(work_dir, 'iter_8.pth'))


# tools/dist_train.sh (two CPU processes, the .venv interpreter found without PYTHON, rank 0's
# checkpoint holds the trained model's weights without a DDP prefix) is run, and its weights
# compared with one process's, by conftest.train_in_one_and_two_processes
# (tests/methods/mcis/test_mcis_training.py).


def test_missing_config_is_reported():
    status, output = run_main('train', ['configs/does_not_exist.py'])
    assert status != 0
    assert 'configs/does_not_exist.py' in output
