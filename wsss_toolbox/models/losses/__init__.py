from .hybrid_loss import HybridLoss, MCELoss  # noqa: F401
from .multilabel_soft_margin_loss import MultiLabelSoftMarginLoss

__all__ = ['MultiLabelSoftMarginLoss']
