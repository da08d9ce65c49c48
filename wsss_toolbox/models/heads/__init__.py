from .base_attention_head import BaseAttentionHead
from .cam_head import CAMBranch, CAMHead
from .integral_attention import IntegralAttentionHead  # noqa: F401

__all__ = ['BaseAttentionHead', 'CAMBranch', 'CAMHead']
