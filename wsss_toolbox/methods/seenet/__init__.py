"""SeeNet: self-erasing network for integral object attention (Hou et al., NeurIPS 2018;
``configs/seenet/``).

Importing this package registers:

* :mod:`.heads` -- :class:`SeeNetHead` (branches S_A, S_B, S_C; ``MODELS``) and its parts:
  :func:`c_relu` / :class:`CReLUFunction` (Eqs. 1-2), :func:`seenet_attention` (M_A),
  :func:`ternary_mask` (T_A), :func:`background_zone_mask` (S_C's mask),
  :func:`fuse_branch_maps` (inference, max of the normalised S_A and S_B maps at feature
  resolution) and :func:`fuse_branch_maps_bicubic` (that fusion in the order of the released
  notebook: bicubic resize, ReLU, / max, then the max);
* :mod:`.label_generator` -- :class:`HarmonicLabelGenerator` (``LABEL_GENERATORS``), the proxy
  ground truth of Algorithm 1.
"""
from .heads import (
    CReLUFunction,
    SeeNetHead,
    background_zone_mask,
    c_relu,
    fuse_branch_maps,
    fuse_branch_maps_bicubic,
    seenet_attention,
    ternary_mask,
)
from .label_generator import HarmonicLabelGenerator

__all__ = [
    'SeeNetHead', 'CReLUFunction', 'c_relu', 'seenet_attention', 'ternary_mask',
    'background_zone_mask', 'fuse_branch_maps', 'fuse_branch_maps_bicubic',
    'HarmonicLabelGenerator'
]
