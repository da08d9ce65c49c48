"""Multi-label classification loss of CAM-style classifiers."""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wsss_toolbox.registry import MODELS


@MODELS.register_module()
class MultiLabelSoftMarginLoss(nn.Module):
    """Sigmoid binary cross-entropy over C independent classes, averaged over classes
    (``torch.nn.functional.multilabel_soft_margin_loss``), as OAA (Eq. 1 + BCE), SeeNet
    and MCIS train their classifiers.

    Per sample: ``-1/C * sum_c [y_c log sigma(x_c) + (1 - y_c) log(1 - sigma(x_c))]``.

    Args:
        loss_weight: factor applied to the loss.
        class_weight: optional per-class weights (length C).
        reduction: over the batch: ``'mean'``, ``'sum'`` or ``'none'``.
        loss_name: key under which heads report this loss (must contain ``'loss'`` so
            mmengine's ``parse_losses`` sums it).
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 class_weight: Optional[Sequence[float]] = None,
                 reduction: str = 'mean',
                 loss_name: str = 'loss_cls') -> None:
        super().__init__()
        if reduction not in ('mean', 'sum', 'none'):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.loss_weight = loss_weight
        self.reduction = reduction
        self._loss_name = loss_name
        if class_weight is not None:
            self.register_buffer('class_weight',
                                 torch.as_tensor(class_weight, dtype=torch.float32), False)
        else:
            self.class_weight = None

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        """
        Args:
            logits: (B, C) raw scores.
            targets: (B, C) multi-hot (or soft) labels in [0, 1].
        """
        if logits.shape != targets.shape:
            raise ValueError(f'logits {tuple(logits.shape)} and targets '
                             f'{tuple(targets.shape)} must have the same (B, C) shape')
        loss = F.multilabel_soft_margin_loss(
            logits, targets.to(logits.dtype), weight=self.class_weight,
            reduction=self.reduction)
        return self.loss_weight * loss
