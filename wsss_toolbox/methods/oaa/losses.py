"""Pixel-level losses of OAA's integral attention model (OAA+, Sec. 3.4, Eqs. 6-9).

Both take the class-aware score maps ``F`` (B, C, h, w) (``q = sigma(F)``), the soft labels
``p`` (B, C, h, w) in [0, 1] (normalised cumulative maps; all-zero for absent classes) and an
optional validity mask (B, 1, h, w) (False on batch padding).
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wsss_toolbox.registry import MODELS


def _check(maps: Tensor, targets: Tensor, valid: Optional[Tensor]) -> Tensor:
    if maps.shape != targets.shape or maps.dim() != 4:
        raise ValueError(f'maps {tuple(maps.shape)} and soft labels {tuple(targets.shape)} '
                         'must both be (B, C, h, w)')
    if valid is None:
        return torch.ones_like(maps, dtype=torch.bool)
    return valid.to(torch.bool).expand_as(maps)


@MODELS.register_module()
class HybridLoss(nn.Module):
    """OAA's hybrid loss (Eqs. 7-9).

    Per image and class c: ``N+ = {j: p_j > tau}``, ``N- = {j: p_j <= tau}`` (paper: tau = 0,
    i.e. N- are the pixels with p = 0; authors' code 0.001)::

        L+^c = -1/|N+| sum_{N+} p_j log q_j        (Eq. 7, "enhanced": label p, not 1)
        L-^c = -1/|N-| sum_{N-} log(1 - q_j)       (Eq. 8, "constraint")
        L    = sum_c (L+^c + L-^c)                  (Eq. 9)

    averaged over the images of the batch. An empty set contributes 0, so an absent class
    (p = 0 everywhere) only has its constraint term.

    Args:
        tau: threshold splitting N+ and N-.
        reduction: ``'per_class'`` (Eqs. 7-9 as written, default), ``'pooled'`` (N+ and
            N- pooled over all classes and images of the batch, one mean each) or
            ``'pooled_per_image'`` (authors' code: N+ and N- pooled over the classes of each
            image, one loss per image).
        batch_reduction: how the per-image losses (``'per_class'``, ``'pooled_per_image'``)
            are combined: ``'mean'`` (default) or ``'sum'`` (authors' code: batch 1 with 5
            accumulated iterations whose losses are not divided, i.e. the sum over the 5
            images, about 5x the gradient of the mean).
        use_enhanced / use_constraint: switch the two terms (``use_constraint=False`` is the
            paper's "EP" ablation, Table 4).
        loss_weight: factor of the loss.
        loss_name: key of the loss in the head's loss dict.
    """

    def __init__(self, tau: float = 0.0, reduction: str = 'per_class',
                 use_enhanced: bool = True, use_constraint: bool = True,
                 loss_weight: float = 1.0, loss_name: str = 'loss_hybrid',
                 batch_reduction: str = 'mean') -> None:
        super().__init__()
        if reduction not in ('per_class', 'pooled', 'pooled_per_image'):
            raise ValueError("reduction must be 'per_class', 'pooled' or 'pooled_per_image', "
                             f'got {reduction!r}')
        if batch_reduction not in ('mean', 'sum'):
            raise ValueError(f"batch_reduction must be 'mean' or 'sum', got {batch_reduction!r}")
        self.batch_reduction = batch_reduction
        self.tau = float(tau)
        self.reduction = reduction
        self.use_enhanced = use_enhanced
        self.use_constraint = use_constraint
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, maps: Tensor, targets: Tensor, valid: Optional[Tensor] = None) -> Tensor:
        valid = _check(maps, targets, valid)
        maps = maps.float()
        targets = targets.to(maps.dtype)
        log_q = F.logsigmoid(maps)  # log sigma(F)
        log_not_q = F.logsigmoid(-maps)  # log(1 - sigma(F))
        enhanced = valid & (targets > self.tau)
        constraint = valid & (targets <= self.tau)
        enhanced_terms = torch.where(enhanced, -targets * log_q, torch.zeros_like(maps))
        constraint_terms = torch.where(constraint, -log_not_q, torch.zeros_like(maps))
        if self.reduction == 'pooled':
            loss = maps.new_zeros(())
            if self.use_enhanced:
                loss = loss + enhanced_terms.sum() / enhanced.sum().clamp(min=1)
            if self.use_constraint:
                loss = loss + constraint_terms.sum() / constraint.sum().clamp(min=1)
            return self.loss_weight * loss
        if self.reduction == 'pooled_per_image':
            per_image = maps.new_zeros(maps.shape[:1])
            if self.use_enhanced:
                per_image = per_image + enhanced_terms.sum(dim=(1, 2, 3)) / enhanced.sum(
                    dim=(1, 2, 3)).clamp(min=1)
            if self.use_constraint:
                per_image = per_image + constraint_terms.sum(dim=(1, 2, 3)) / constraint.sum(
                    dim=(1, 2, 3)).clamp(min=1)
            return self.loss_weight * self._combine(per_image)
        per_class = maps.new_zeros(maps.shape[:2])
        if self.use_enhanced:  # Eq. 7
            per_class = per_class + enhanced_terms.sum(dim=(2, 3)) / enhanced.sum(
                dim=(2, 3)).clamp(min=1)
        if self.use_constraint:  # Eq. 8
            per_class = per_class + constraint_terms.sum(dim=(2, 3)) / constraint.sum(
                dim=(2, 3)).clamp(min=1)
        return self.loss_weight * self._combine(per_class.sum(dim=1))  # Eq. 9

    def _combine(self, per_image: Tensor) -> Tensor:
        return per_image.sum() if self.batch_reduction == 'sum' else per_image.mean()


@MODELS.register_module()
class MCELoss(nn.Module):
    """Multi-label cross-entropy on soft labels (Eq. 6, the paper's "MCE" baseline)::

        L^c = -1/|N| sum_j [p_j log q_j + (1 - p_j) log(1 - q_j)]

    summed over the classes (as Eq. 9 sums the hybrid terms) and averaged over the images.

    Args:
        loss_weight: factor of the loss.
        loss_name: key of the loss in the head's loss dict.
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_mce') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, maps: Tensor, targets: Tensor, valid: Optional[Tensor] = None) -> Tensor:
        valid = _check(maps, targets, valid)
        maps = maps.float()
        terms = F.binary_cross_entropy_with_logits(maps, targets.to(maps.dtype),
                                                   reduction='none')
        terms = torch.where(valid, terms, torch.zeros_like(terms))
        per_class = terms.sum(dim=(2, 3)) / valid.sum(dim=(2, 3)).clamp(min=1)
        return self.loss_weight * per_class.sum(dim=1).mean()
