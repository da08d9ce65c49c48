from .multilabel_soft_margin_loss import MultiLabelSoftMarginLoss
from .softmax_cross_entropy_loss import SoftmaxCrossEntropyLoss

__all__ = ['MultiLabelSoftMarginLoss', 'SoftmaxCrossEntropyLoss']
