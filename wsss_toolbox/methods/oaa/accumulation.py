"""Gradient accumulation counted per epoch, as OAA-PyTorch's training loops count it.

OAA-PyTorch (``scripts/train.py`` L116-134 for OAA / OAA++, ``scripts/train_iam.py``
L113-128 for OAA+) accumulates ``iter_size`` (5) iterations of batch 1:

* a counter ``flag`` is set to 0 at the start of every epoch (train.py L117), but
  ``optimizer.zero_grad()`` is only called right after ``optimizer.step()`` (L131-134);
* every iteration calls ``backward`` (train.py divides the loss by ``iter_size`` first, L127;
  train_iam.py does not, L122), then ``flag += 1``; when ``flag == iter_size`` the optimiser
  steps, the gradients are zeroed and ``flag`` goes back to 0.

So when an epoch's length n is not a multiple of k = ``iter_size``, the gradients of its last
``n mod k`` iterations stay in ``.grad`` and are added to those of the next epoch's first k
iterations: that step uses ``k + n mod k`` images (VOC train_aug, 10,582 = 5 x 2,116 + 2: 7
images, each loss divided by 5), every epoch makes ``n // k`` steps, and the last epoch's
leftover is never applied. mmengine's ``OptimWrapper(accumulative_counts=k)`` counts
iterations across epochs instead (groups of k consecutive iterations of the whole run, and a
last step on the remainder of the whole run with the loss divided by that remainder).
"""
import logging
from typing import Dict, Optional

import torch
import torch.nn as nn
from mmengine.logging import MessageHub, print_log
from mmengine.optim import OptimWrapper
from mmengine.utils.dl_utils import has_batch_norm

from wsss_toolbox.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class PerEpochAccumulationOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose gradient-accumulation counter restarts at every epoch without
    zeroing the gradients (OAA-PyTorch, scripts/train.py L116-134; module docstring).

    * steps (and zeroes the gradients) after the k-th, 2k-th, ... iteration *of each epoch*
      (k = ``accumulative_counts``);
    * a new epoch restarts the count but keeps the gradients of the previous epoch's last
      ``n mod k`` iterations, so they join its first step;
    * every loss is divided by k (train.py L127; mmengine's smaller divisor for the run's
      final remainder is not used), and the last epoch's leftover is never applied.

    The epoch is the one mmengine's ``RuntimeInfoHook`` writes to the current
    ``MessageHub`` (``'epoch'``) before every training epoch; outside a runner (no such
    entry) the whole run counts as one epoch. The leftover gradients are not part of a
    checkpoint: a run resumed at an epoch boundary starts that epoch with zero gradients,
    where the uninterrupted run would carry the leftover in. Not combined with
    ``AmpOptimWrapper`` (``tools/train.py --amp`` refuses this type).

    Args:
        optimizer: the wrapped optimiser.
        accumulative_counts: k (the authors' ``iter_size``: 5).
        clip_grad: as ``OptimWrapper``'s.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, accumulative_counts: int = 1,
                 clip_grad: Optional[dict] = None) -> None:
        super().__init__(optimizer, accumulative_counts=accumulative_counts,
                         clip_grad=clip_grad)
        self._epoch: Optional[int] = None
        self._epoch_start_count = 0

    @property
    def epoch_inner_count(self) -> int:
        """Iterations counted (backward calls) since the current epoch began."""
        return self._inner_count - self._epoch_start_count

    def _follow_epoch(self) -> None:
        """Restart the per-epoch count when the runner's epoch changed (no ``zero_grad``)."""
        epoch = MessageHub.get_current_instance().get_info('epoch')
        if epoch != self._epoch:
            self._epoch = epoch
            self._epoch_start_count = self._inner_count

    def initialize_count_status(self, model: nn.Module, init_counts: int,
                                max_counts: int) -> None:
        """As mmengine's, without its warning that ``init_counts`` is not a multiple of k
        (the count restarts at every epoch here)."""
        self._inner_count = init_counts
        self._max_counts = max_counts
        self._remainder_counts = max_counts % self._accumulative_counts
        self._epoch = None
        self._epoch_start_count = init_counts
        if has_batch_norm(model) and self._accumulative_counts > 1:
            print_log('Gradient accumulative may slightly decrease performance because the '
                      'model has BatchNorm layers.', logger='current', level=logging.WARNING)

    def update_params(self, loss: torch.Tensor, step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        self._follow_epoch()
        super().update_params(loss, step_kwargs=step_kwargs, zero_kwargs=zero_kwargs)

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        """The loss divided by k at every iteration (train.py L127)."""
        return loss / self._accumulative_counts

    def should_update(self) -> bool:
        """Step after every k-th iteration of the epoch (train.py L130-134)."""
        return self.epoch_inner_count % self._accumulative_counts == 0

    def should_sync(self) -> bool:
        """Synchronise (distributed) gradients only before an iteration that steps."""
        self._follow_epoch()
        return (self.epoch_inner_count + 1) % self._accumulative_counts == 0
