"""Softmax cross-entropy for single-label images (WSOL, LID 2020 track 3: one class per
image), as the CAM / ADL / Bae et al. ImageNet and CUB classifiers are trained."""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wsss_toolbox.registry import MODELS


@MODELS.register_module()
class SoftmaxCrossEntropyLoss(nn.Module):
    """``-sum_c y_c log softmax(x)_c`` averaged over images, for multi-hot labels ``y`` with
    exactly one positive class per image (an image with another count is an error).

    Args:
        loss_weight: factor of the loss.
        loss_name: the key of the loss in the loss dict.
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_cls') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.loss_name = loss_name

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        positives = (labels > 0).sum(dim=1)
        if not bool(torch.all(positives == 1)):
            bad = int(torch.nonzero(positives != 1)[0])
            raise ValueError(f'SoftmaxCrossEntropyLoss needs one positive class per image; '
                             f'image {bad} of the batch has {int(positives[bad])}. Use '
                             'MultiLabelSoftMarginLoss for multi-label data.')
        return self.loss_weight * F.cross_entropy(logits, labels.argmax(dim=1))
