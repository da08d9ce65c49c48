"""Stage-3 decode heads (mmseg ``BaseDecodeHead`` subclasses)."""
from .largefov_head import LargeFOVHead, vgg16_fc_to_largefov

__all__ = ['LargeFOVHead', 'vgg16_fc_to_largefov']
