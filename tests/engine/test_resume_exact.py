"""A training run killed (SIGKILL) mid-epoch and resumed ends with the weights of an
uninterrupted run, bit for bit (ResumableSeedHook)."""
import glob
import importlib.util
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.dataset import worker_init_fn as mmengine_worker_init_fn

from wsss_toolbox.datasets.synthetic_benchmark import generate_synthetic_benchmark
from wsss_toolbox.engine.config import load_config
from wsss_toolbox.engine.seeding import derived_seed, seed_everything, seed_worker_from_torch

_spec = importlib.util.spec_from_file_location(
    'resume_run', osp.join(osp.dirname(__file__), 'resume_run.py'))
resume_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(resume_run)
run_in_child = resume_run.run_in_child


@pytest.mark.parametrize('kind', ['cam', 'deeplab'])
def test_killed_and_resumed_run_equals_uninterrupted_run(tmp_path, kind):
    """cam: epoch-based (2 batches an epoch), killed in epoch 2 of 3; deeplab:
    iteration-based, killed before iteration 4 of 4, so that the resume from iteration 2's
    checkpoint redoes iteration 3 (both with persistent workers, dropout in DeepLab's head,
    validation during training)."""
    data = str(tmp_path / 'data')
    generate_synthetic_benchmark(data, num_train=8, num_val=2, image_size=32, num_workers=1)
    work = str(tmp_path)
    # each run in its own process (forked: this process's imports, not a new interpreter)
    assert run_in_child(kind, data, work, 'full') == 0
    assert run_in_child(kind, data, work, 'cut') == -9  # the run killed itself
    assert not osp.exists(tmp_path / 'cut' / 'final.pth')
    assert run_in_child(kind, data, work, 'resume') == 0
    logs = ''.join(open(path).read()
                   for path in glob.glob(str(tmp_path / 'cut' / '*' / '*.log')))
    assert 'Auto resumed from the latest checkpoint' in logs
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
