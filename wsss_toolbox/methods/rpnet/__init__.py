"""RPNet: region prototypical network (Liu et al., IEEE TMM; ``configs/rpnet/``).

Importing this package registers:

* :mod:`.heads` -- :class:`RPNetHead` (``MODELS``; original + prototype-enhanced branch, loss
  ``L_c + lambda L_s``) and its parts: :func:`confident_mask` (Eqs. 3-6), :func:`discard_part`,
  :func:`masked_average_pooling` (Eq. 5), :func:`share_within_groups`,
  :func:`prototype_similarity` (Eq. 7), :func:`max_normalised_similarity` (Eq. 8, x 1.3),
  :func:`gaussian_kernel` / :func:`gaussian_smooth` (Eqs. 9-10), :func:`cam_similarity_loss`
  (the code's ``L_s``), :class:`NonLocalBlock` (the code's option);
* :mod:`.classifier` -- :class:`RPNetClassifier` (``MODELS``; the extra scales of ``L_s``);
* :mod:`.hooks` -- :class:`GroupSizeCheckHook` (``HOOKS``; warns about classes with fewer
  images than the group size);

Training data: the core's ``ImageGroupDataset`` + ``ClassPairSampler`` + ``group_collate``.
"""
from .classifier import RPNetClassifier
from .heads import (
    NonLocalBlock,
    RPNetHead,
    cam_similarity_loss,
    confident_mask,
    discard_part,
    gaussian_kernel,
    gaussian_smooth,
    masked_average_pooling,
    max_normalised_similarity,
    normalised_label_cams,
    prototype_similarity,
    share_within_groups,
)
from .hooks import GroupSizeCheckHook

__all__ = [
    'RPNetHead', 'RPNetClassifier', 'GroupSizeCheckHook', 'NonLocalBlock',
    'confident_mask', 'discard_part', 'masked_average_pooling', 'share_within_groups',
    'prototype_similarity', 'max_normalised_similarity', 'gaussian_kernel', 'gaussian_smooth',
    'normalised_label_cams', 'cam_similarity_loss'
]
