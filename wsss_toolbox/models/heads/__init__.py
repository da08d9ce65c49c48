from .base_attention_head import BaseAttentionHead
from .cam_head import CAMBranch, CAMHead

__all__ = ['BaseAttentionHead', 'CAMBranch', 'CAMHead']
