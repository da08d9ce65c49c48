"""The data sample that flows through stage 1 (classifier) and stage 2 (map inference)."""
from typing import Optional

import torch
from mmengine.structures import BaseDataElement, PixelData


class WSSSDataSample(BaseDataElement):
    """One image of an image-label dataset.

    Data fields:
        gt_label (Tensor): multi-hot (C,) float vector over the *foreground* classes.
        gt_sem_seg (PixelData, optional): ground-truth mask (1, H, W); 0 = background,
            ``k + 1`` = foreground class ``k``, 255 = ignore (as mmseg's ``SegDataSample``).
        gt_saliency (PixelData, optional): class-agnostic saliency (1, H, W) in [0, 1].
        pred_scores (Tensor): (C,) class probabilities from ``predict``.
        pred_maps (Tensor): (C, h, w) non-negative localization maps of every class at the
            network-input resolution (``img_shape``), from ``predict``.

    Meta fields: ``img_id``, ``img_path``, ``ori_shape``, ``img_shape``, ``scale_factor``,
    ``flip``, ``flip_direction`` (and whatever else the pack transform is told to keep).
    """

    def _typed(name, kind):  # noqa: N805 - tiny property factory
        def getter(self):
            return getattr(self, f'_{name}')

        def setter(self, value):
            self.set_field(value, f'_{name}', dtype=kind)

        def deleter(self):
            delattr(self, f'_{name}')

        return property(getter, setter, deleter)

    gt_label = _typed('gt_label', torch.Tensor)
    gt_sem_seg = _typed('gt_sem_seg', PixelData)
    gt_saliency = _typed('gt_saliency', PixelData)
    pred_scores = _typed('pred_scores', torch.Tensor)
    pred_maps = _typed('pred_maps', torch.Tensor)
    del _typed

    @property
    def positive_classes(self) -> Optional[torch.Tensor]:
        """Indices of the image's classes, or None when it carries no label."""
        if 'gt_label' not in self:
            return None
        return torch.nonzero(self.gt_label > 0, as_tuple=False).flatten()
