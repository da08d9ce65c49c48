"""Random states that make a resumed training run equal to an uninterrupted one.

mmengine seeds python, numpy and torch once, when the runner is built, and its checkpoints
hold no random state. A run resumed from the checkpoint of epoch ``k`` therefore starts
epoch ``k + 1`` from the seed's initial state, while the uninterrupted run has drawn from it
for ``k`` epochs (augmentations, dropout, the data loader's worker seeds, the validation
loop's loader): the two runs train on different draws and end with different weights.

:class:`ResumableSeedHook` makes the random state at each step a function of
``(seed, rank, position)`` alone, so a resumed run replays exactly what the uninterrupted run
drew:

* epoch-based loops: at the start of every epoch python, numpy and torch (every device) are
  seeded from ``(seed, rank, epoch)``; the train loader's workers are started afresh each
  epoch (a persistent worker would carry its state over from the previous epoch, which a
  resumed run never had) and seed python / numpy / torch from the base seed torch gives them
  (:func:`seed_worker_from_torch`), which the reseeded main process draws, so augmentations
  still differ from epoch to epoch;
* iteration-based loops: the main process is seeded from ``(seed, rank, iteration)`` before
  every iteration. mmengine resumes them by replaying the loader up to the checkpoint's
  iteration, which reproduces what the workers draw when the loader has workers
  (``num_workers >= 1``); with ``num_workers=0`` the transforms draw from the main process
  during that replay and the resumed run is not bit-identical (a warning says so).

Nondeterministic kernels (some CUDA ones, unless ``randomness.deterministic=True``) still make
two runs differ; see ``docs/reproducibility.md``.
"""
import random
import warnings
from functools import partial
from typing import Optional

import numpy as np
import torch
from mmengine.dataset import worker_init_fn as mmengine_worker_init_fn
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop

from wsss_toolbox.registry import HOOKS

#: distinguishes the epoch stream from the iteration stream of one seed
_EPOCH, _ITERATION = 0, 1


def derived_seed(seed: int, rank: int, stream: int, position: int) -> int:
    """A 32-bit seed for ``position`` (epoch or iteration) of ``stream`` on ``rank``."""
    return int(np.random.SeedSequence([seed, rank, stream, position]).generate_state(1)[0])


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and every accelerator) with ``seed``."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def seed_worker_from_torch(worker_id: int, num_workers: Optional[int] = None,
                           rank: int = 0, seed: Optional[int] = None,
                           disable_subprocess_warning: bool = False) -> None:
    """``worker_init_fn`` seeding a loader worker from torch's per-worker seed.

    torch gives worker ``i`` the seed ``base + i``, ``base`` drawn from the main process when
    the loader's iterator starts; the main process being seeded per epoch, the workers' draws
    are a function of ``(seed, rank, epoch, worker)``. The keyword arguments are those mmengine
    passes to its own ``worker_init_fn`` (``disable_subprocess_warning`` is honoured the same
    way)."""
    worker_seed = int(np.random.SeedSequence([torch.initial_seed(), rank]).generate_state(1)[0])
    seed_everything(worker_seed)
    if disable_subprocess_warning and worker_id != 0:
        warnings.simplefilter('ignore')


@HOOKS.register_module()
class ResumableSeedHook(Hook):
    """Reseed python / numpy / torch per epoch (or per iteration) so that a run resumed from
    a checkpoint draws what the uninterrupted run drew; see the module docstring.

    Args:
        restart_workers: start the train loader's workers afresh each epoch even when
            ``persistent_workers=True`` (needed for an epoch-based run to resume exactly; set
            False to keep persistent workers at the price of inexact resumption).
    """

    # before any other hook draws random numbers at the start of an epoch or iteration
    priority = 'HIGHEST'

    def __init__(self, restart_workers: bool = True) -> None:
        self.restart_workers = restart_workers

    def _seed(self, runner) -> int:
        seed = runner.seed
        if seed is None:  # pragma: no cover - mmengine always resolves one
            raise ValueError('ResumableSeedHook needs a seed: set `randomness=dict(seed=...)`.')
        return int(seed)

    def before_train(self, runner) -> None:
        loop = runner.train_loop
        loader = loop.dataloader
        init_fn = loader.worker_init_fn
        # mmengine's default seeds each worker with `seed + worker_id`, the same every epoch;
        # ours follows the per-epoch seed. A worker_init_fn the user chose is kept.
        if isinstance(init_fn, partial) and init_fn.func is mmengine_worker_init_fn:
            loader.worker_init_fn = partial(seed_worker_from_torch, **init_fn.keywords)
        if isinstance(loop, IterBasedTrainLoop) and loader.num_workers == 0 and loop.iter > 0:
            print_log('ResumableSeedHook: the train loader has num_workers=0, so its '
                      'transforms draw from the main process while mmengine replays the '
                      'loader to the resumed iteration; this run will not be bit-identical '
                      'to an uninterrupted one (use num_workers >= 1 for that).',
                      logger='current', level=30)

    def before_train_epoch(self, runner) -> None:
        if isinstance(runner.train_loop, IterBasedTrainLoop):
            return
        seed_everything(derived_seed(self._seed(runner), get_rank(), _EPOCH, runner.epoch))
        loader = runner.train_loop.dataloader
        if self.restart_workers and getattr(loader, '_iterator', None) is not None:
            # a persistent loader keeps its workers (and their random state) otherwise
            loader._iterator = None

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if isinstance(runner.train_loop, IterBasedTrainLoop):
            seed_everything(derived_seed(self._seed(runner), get_rank(), _ITERATION,
                                         runner.iter))
