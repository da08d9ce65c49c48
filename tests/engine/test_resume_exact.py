"""A training run killed (SIGKILL) mid-epoch and resumed ends with the weights of an
uninterrupted run, bit for bit (ResumableSeedHook)."""
import glob
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.dataset import worker_init_fn as mmengine_worker_init_fn

from wsss_toolbox.datasets.synthetic_benchmark import generate_synthetic_benchmark
from wsss_toolbox.engine.config import load_config
from wsss_toolbox.engine.seeding import derived_seed, seed_everything, seed_worker_from_torch

SCRIPT = osp.join(osp.dirname(__file__), 'resume_run.py')


@pytest.mark.parametrize('kind', ['cam', 'deeplab'])
def test_killed_and_resumed_run_equals_uninterrupted_run(tmp_path, kind):
    """cam: epoch-based, killed in epoch 2; deeplab: iteration-based, killed at iteration 6
    (both with persistent workers, dropout in DeepLab's head, validation during training)."""
    data = str(tmp_path / 'data')
    generate_synthetic_benchmark(data, num_train=12, num_val=2, image_size=32, num_workers=1)
    full = subprocess.run([sys.executable, SCRIPT, kind, data, str(tmp_path), 'full'],
                          capture_output=True, text=True)
    assert full.returncode == -9, full.stderr[-2000:]  # the second run killed itself
    assert not osp.exists(tmp_path / 'cut' / 'final.pth')
    resumed = subprocess.run([sys.executable, SCRIPT, kind, data, str(tmp_path), 'resume'],
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert 'Auto resumed from the latest checkpoint' in resumed.stdout + resumed.stderr
    uninterrupted = torch.load(tmp_path / 'full' / 'final.pth')
    interrupted = torch.load(tmp_path / 'cut' / 'final.pth')
    assert uninterrupted.keys() == interrupted.keys()
    differ = [key for key in uninterrupted
              if not torch.equal(uninterrupted[key], interrupted[key])]
    assert differ == []


def test_seeds_depend_on_position_rank_and_seed_only():
    assert derived_seed(0, 0, 0, 3) == derived_seed(0, 0, 0, 3)
    seeds = {derived_seed(s, r, k, p) for s in (0, 1) for r in (0, 1) for k in (0, 1)
             for p in (0, 1)}
    assert len(seeds) == 16
    seed_everything(derived_seed(0, 0, 0, 5))
    first = (np.random.rand(), torch.rand(1).item())
    np.random.rand(7), torch.rand(9)
    seed_everything(derived_seed(0, 0, 0, 5))
    assert (np.random.rand(), torch.rand(1).item()) == first


def test_worker_seed_follows_torch_base_seed(monkeypatch):
    """Workers seed numpy from torch's per-worker seed (drawn per epoch), where mmengine's
    default gives every epoch the same ``seed + worker_id``."""
    draws = {}
    for base in (10, 11):
        monkeypatch.setattr(torch, 'initial_seed', lambda base=base: base)
        seed_worker_from_torch(0, num_workers=2, rank=0, seed=0)
        draws[base] = np.random.rand()
    assert draws[10] != draws[11]
    mmengine_worker_init_fn(0, num_workers=2, rank=0, seed=0)
    default = np.random.rand()
    mmengine_worker_init_fn(0, num_workers=2, rank=0, seed=0)
    assert np.random.rand() == default


ROOT = osp.join(osp.dirname(__file__), '..', '..')
TRAINING_CONFIGS = sorted(
    path for path in glob.glob(osp.join(ROOT, 'configs', '*', '*.py'))
    if osp.basename(osp.dirname(path)) not in ('_base_', 'pipelines'))


def test_every_training_config_registers_the_hook():
    missing = []
    for path in TRAINING_CONFIGS:
        cfg = load_config(path)
        if cfg.get('train_cfg') is not None:
            hook = (cfg.get('default_hooks') or {}).get('resumable_seed')
            if not hook or hook.get('type') != 'ResumableSeedHook':
                missing.append(osp.relpath(path, ROOT))
    assert len(TRAINING_CONFIGS) > 20
    assert missing == []
