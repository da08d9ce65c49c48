"""Shared fixtures: tiny data written on the fly, the repository root, a subprocess runner."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from shared_pipelines import cam_pipeline  # noqa: F401  (a session fixture)
from tool_runs import configs_formatted_once, run_ok

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


@pytest.fixture(autouse=True, scope='session')
def _configs_formatted_once():
    """Every runner built in a test process formats each config text with yapf once."""
    with configs_formatted_once():
        yield


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
    """Train ``config`` with ``tools/train.py`` in one process (this one, through its
    ``main``) and with ``tools/dist_train.sh`` in two CPU processes (torchrun, DDP over gloo,
    PYTHON unset: the script finds .venv's interpreter, as the README runs it); assert both
    end with the same weights (every key, rtol 1e-4 / atol 1e-5: rank 0 saves the model's
    weights, no DDP ``module.`` prefix); return the one-process log and its state dict."""
    import torch

    from wsss_toolbox.engine import load_local_checkpoint
    single, double = osp.join(work_dir, 'single'), osp.join(work_dir, 'double')
    log = run_ok('train', [config, '--work-dir', single] + single_options)
    assert osp.isfile(osp.join(REPO_ROOT, '.venv', 'bin', 'python'))
    proc = run_tool(['bash', 'tools/dist_train.sh', config, '2', '--work-dir', double]
                    + double_options, env_extra={'PYTHON': '', 'PORT': str(master_port)})
    output = proc.stdout + proc.stderr
    assert 'Distributed training: True' in output
    assert "'world_size': 2" in output or 'world_size: 2' in output or 'GPU number: 2' in output
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


# Files that read one session fixture of tests/shared_pipelines.py: one xdist work unit
# (pytest_xdist_make_scheduler below), so that `make test` builds the fixture once.
SHARED_RUN_GROUPS = {'test_pipeline.py': 'cam_pipeline', 'test_readme.py': 'cam_pipeline'}
# The longest files (or groups), longest first: xdist hands work out in collection order, so
# they start first and the two workers end together.
LONGEST_FIRST = ('cam_pipeline', 'test_train_tools.py', 'test_resume_exact.py',
                 'test_test_tool.py', 'test_mim_commands.py', 'test_bad_input_tools.py',
                 'test_mcis_pipeline.py', 'test_irn_pipeline.py', 'test_rpnet_pipeline.py',
                 'test_track1_pipeline.py', 'test_deeplab_configs.py', 'test_stage2_tools.py',
                 'test_seenet_pipeline.py', 'test_oaa_training.py', 'test_oaa_configs.py',
                 'test_mcis_training.py', 'test_oaa_pipeline.py', 'test_gpu_kit.py')


def pytest_xdist_make_scheduler(config, log):
    """--dist loadfile, with the files of one SHARED_RUN_GROUPS group as one work unit.
    (xdist's --dist loadgroup would do it with marks, but pytest-xdist 3.8 loses its group
    suffix of the node ids under pytest 9, and then spreads every test of a file.)"""
    if config.getvalue('dist') != 'loadfile':
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedRunScheduling(LoadFileScheduling):

        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return SHARED_RUN_GROUPS.get(osp.basename(scope), scope)

    return SharedRunScheduling(config, log)


def pytest_configure(config):
    # keep the collection order (longest first, below) instead of xdist's default order of
    # the most tests first, which starts the long single-test files last
    if hasattr(config.option, 'loadscopereorder'):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config, items):
    import fnmatch
    for item in items:
        name = osp.basename(str(item.fspath))
        if any(fnmatch.fnmatch(name, pattern) for pattern in SLOW_FILE_PATTERNS):
            item.add_marker(pytest.mark.slow)

    def rank(item):
        name = osp.basename(str(item.fspath))
        group = SHARED_RUN_GROUPS.get(name, name)
        return LONGEST_FIRST.index(group) if group in LONGEST_FIRST else len(LONGEST_FIRST)
    items.sort(key=rank)  # stable: the rest keeps its order
