"""mim treats wsss_toolbox as an OpenMMLab codebase: search, run, train and test.

Each command runs in a folder without configs/ or tools/, so mim must find them in the
installed package (wsss_toolbox/.mim). mim runs each tool as a command (``python
.../tools/<script>.py ...``): these are the command-line runs of tools/train.py, tools/test.py
and tools/dataset_converters/make_synthetic_benchmark.py, which tests/tools/test_train_tools.py
and tests/test_readme.py run in their process.
"""
import os
import os.path as osp
import subprocess
import sys

import pytest
import yaml
from conftest import REPO_ROOT

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


def test_mim_run_train_and_test_a_tiny_cam(tmp_path):
    """mim run (a script in a subfolder of tools/, its options after "--") makes the data that
    mim train and mim test use."""
    data = str(tmp_path / 'synthetic')
    output = mim(['run', 'wsss_toolbox', 'make_synthetic_benchmark', data, '--', '--num-train',
                  '4', '--num-val', '2', '--image-size', '48', '--workers', '1'], str(tmp_path))
    assert osp.join('wsss_toolbox', '.mim', 'tools', 'dataset_converters',
                    'make_synthetic_benchmark.py') in output
    with open(osp.join(data, 'ImageSets', 'Segmentation', 'train.txt')) as f:
        assert len(f.read().split()) == 4  # the options after "--" reached the script
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
    assert osp.join('wsss_toolbox', '.mim', 'tools', 'test.py') in output
    assert 'Epoch(test)' in output and 'cls/mAP' in output
