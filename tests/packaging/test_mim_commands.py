"""mim treats wsss_toolbox as an OpenMMLab codebase: search, run, train and test.

Each command runs in a folder without configs/ or tools/, so mim must find them in the
installed package (wsss_toolbox/.mim).
"""
import os
import os.path as osp
import subprocess
import sys

import pytest
import yaml
from conftest import REPO_ROOT

from wsss_toolbox.datasets.synthetic_benchmark import generate_synthetic_benchmark

pytestmark = pytest.mark.slow  # tool subprocesses (a CAM trained for one epoch)

MIM = osp.join(osp.dirname(sys.executable), 'mim')
CAM = 'cam_tiny_1xb16-8e_synthetic-128x128.py'


def mim(args: list, cwd: str) -> str:
    proc = subprocess.run([MIM] + args, cwd=cwd, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, OMP_NUM_THREADS='1'))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'mim {" ".join(args)} failed:\n{output[-4000:]}'
    return output


def test_mim_search_lists_every_model_with_its_metrics(tmp_path):
    output = mim(['search', 'wsss_toolbox'], str(tmp_path))
    with open(osp.join(REPO_ROOT, 'model-index.yml')) as f:
        metafiles = yaml.safe_load(f)['Import']
    for path in metafiles:
        with open(osp.join(REPO_ROOT, path)) as f:
            for model in yaml.safe_load(f)['Models']:
                assert f"config id: {model['Name']}\n" in output, model['Name']
    assert 'synthetic benchmark/label_miou' in output and 'synthetic benchmark/miou' in output


def test_mim_run_calls_a_tool(tmp_path):
    output = mim(['run', 'wsss_toolbox', 'train', '--', '--help'], str(tmp_path))
    assert 'usage: train.py' in output and '--cfg-options' in output


def test_mim_train_and_test_a_tiny_cam(tmp_path):
    data = str(tmp_path / 'synthetic')
    generate_synthetic_benchmark(data, num_train=4, num_val=2, image_size=48, num_workers=1)
    options = [f'{split}_dataloader.{key}' for split in ('train', 'val', 'test')
               for key in (f'dataset.data_root={data}', 'num_workers=0',
                           'persistent_workers=False')]
    work_dir = str(tmp_path / 'work')
    output = mim(['train', 'wsss_toolbox', CAM, '--work-dir', work_dir, '--cfg-options',
                  'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
                  'train_dataloader.batch_size=2'] + options, str(tmp_path))
    assert osp.join('wsss_toolbox', '.mim', 'tools', 'train.py') in output
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    output = mim(['test', 'wsss_toolbox', CAM, '--checkpoint', osp.join(work_dir, 'epoch_1.pth'),
                  '--work-dir', str(tmp_path / 'test'), '--cfg-options'] + options,
                 str(tmp_path))
    assert 'Epoch(test)' in output and 'cls/mAP' in output
