"""Shared fixtures: tiny data written on the fly, the repository root, a subprocess runner."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def write_tiny_voc(root: str, num_train: int = 6, num_val: int = 2, size: int = 32,
                   seed: int = 0) -> str:
    """A VOC-layout folder of coloured squares/discs on noise (3 classes incl. background)."""
    import mmcv
    rng = np.random.default_rng(seed)
    names = {'train': [f'tr{i:03d}' for i in range(num_train)],
             'val': [f'va{i:03d}' for i in range(num_val)]}
    yy, xx = np.mgrid[:size, :size]
    for split, ids in names.items():
        for img_id in ids:
            img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
            mask = np.zeros((size, size), np.uint8)
            cy, cx = rng.integers(size // 4, 3 * size // 4, 2)
            r = size // 5
            if rng.random() < 0.5:
                region = (abs(yy - cy) <= r) & (abs(xx - cx) <= r)
                mask[region], img[region] = 1, (200, 40, 40)
            else:
                region = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
                mask[region], img[region] = 2, (40, 40, 200)
            mmcv.imwrite(img, osp.join(root, 'JPEGImages', f'{img_id}.png'))
            mmcv.imwrite(mask, osp.join(root, 'SegmentationClass', f'{img_id}.png'))
        os.makedirs(osp.join(root, 'ImageSets', 'Segmentation'), exist_ok=True)
        with open(osp.join(root, 'ImageSets', 'Segmentation', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(ids) + '\n')
    return root


@pytest.fixture
def tiny_voc(tmp_path) -> str:
    return write_tiny_voc(str(tmp_path / 'tiny_voc'))


def run_tool(args, timeout: int = 600, env_extra: dict = None) -> subprocess.CompletedProcess:
    """Run a command from the repository root with this interpreter; fail with its output."""
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS='1')
    env.update(env_extra or {})
    proc = subprocess.run(args, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f'command failed ({proc.returncode}): {" ".join(args)}\n'
                             f'--- stdout ---\n{proc.stdout[-5000:]}\n'
                             f'--- stderr ---\n{proc.stderr[-5000:]}')
    return proc


PYTHON = sys.executable


def train_in_one_and_two_processes(config: str, work_dir: str, single_options: list,
                                   double_options: list, master_port: int,
                                   checkpoint: str = 'epoch_1.pth') -> str:
    """Train ``config`` with ``tools/train.py`` in one process and with a 2-process CPU
    ``torchrun``; assert both end with the same weights (every key, rtol 1e-4 / atol 1e-5);
    return the one-process log and its state dict."""
    import torch

    from wsss_toolbox.engine import load_local_checkpoint
    single, double = osp.join(work_dir, 'single'), osp.join(work_dir, 'double')
    proc = run_tool([PYTHON, 'tools/train.py', config, '--work-dir', single] + single_options)
    log = proc.stdout + proc.stderr
    proc = run_tool([PYTHON, '-m', 'torch.distributed.run', '--nproc_per_node=2',
                     f'--master_port={master_port}', 'tools/train.py', config,
                     '--launcher', 'pytorch', '--work-dir', double] + double_options)
    assert 'Distributed training: True' in proc.stdout + proc.stderr
    a = load_local_checkpoint(osp.join(single, checkpoint))['state_dict']
    b = load_local_checkpoint(osp.join(double, checkpoint))['state_dict']
    assert sorted(a) == sorted(b)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)
    return log, a


# Test files that train models, run whole pipelines or start tool subprocesses (each pays
# ~4 s of imports per process): marked `slow`, left out by `make test-quick` (the unit tests,
# for the edit loop); `make test` runs everything.
SLOW_FILE_PATTERNS = (
    '*pipeline*.py', 'test_*training*.py', 'test_resume_exact.py', 'test_train_tools.py',
    'test_test_tool.py', 'test_readme.py', 'test_gpu_kit.py', 'test_stage2_tools.py',
    'test_bad_input_tools.py', 'test_config_errors.py', 'test_deeplab_configs.py',
    'test_stage1_and_pipeline_configs.py', 'test_sync_bn.py', 'test_cuda.py',
    'test_file_fingerprints.py', 'test_summary_warnings.py', 'test_per_image_outputs.py',
    'test_steps.py', 'test_oaa_configs.py')


def pytest_collection_modifyitems(config, items):
    import fnmatch
    for item in items:
        name = osp.basename(str(item.fspath))
        if any(fnmatch.fnmatch(name, pattern) for pattern in SLOW_FILE_PATTERNS):
            item.add_marker(pytest.mark.slow)
