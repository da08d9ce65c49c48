"""OAA's integral attention model (OAA+, Sec. 3.4)."""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from wsss_toolbox.models.heads import CAMHead
from wsss_toolbox.models.heads.base_attention_head import _describe
from wsss_toolbox.models.utils import crop_valid_region
from wsss_toolbox.registry import MODELS


@MODELS.register_module()
class IntegralAttentionHead(CAMHead):
    """The classification head of OAA without GAP and classification loss, trained with
    pixel-level soft labels: the normalised cumulative maps of an OAA run.

    ``F^ = classifier(convs(feats))`` (a :class:`CAMBranch`); ``q = sigma(F^)`` is supervised
    by the soft labels ``p`` (``data_sample.gt_soft_maps``: (C, H, W) at the network-input
    size, all-zero for absent classes; see ``LoadCumulativeMaps``) with ``loss_soft``:
    :class:`HybridLoss` (Eqs. 7-9, default) or :class:`MCELoss` (Eq. 6). The soft labels are
    resized to the feature cells that cover the image (``label_resize_mode``, area averaging
    by default); cells of the batch padding are left out of the loss.

    Inference maps are ``ReLU(F^)`` (stage-2 map inference divides by the maximum, giving
    the authors' ``ReLU(F^) / max``). ``logits = GAP(F^)`` are still returned so that the
    classifier's ``predict`` works, but they are not trained unless ``loss_cls`` is set.

    Args:
        in_channels: channels of the selected backbone output.
        num_classes: number C of foreground classes.
        loss_soft: pixel loss config.
        loss_cls: optional image-level loss on ``logits`` (the paper has none).
        label_resize_mode: ``F.interpolate`` mode bringing the soft labels to feature
            resolution (``'area'`` = average over each cell; ``'bilinear'``; ``'nearest'``),
            or ``'none'``: the soft labels are already at feature resolution (the authors'
            stored uint8 maps / 255, ``LoadStoredCumulativeMaps``) and must have the size of
            the image's feature cells.
        in_index: which backbone output to use.
        init_cfg: mmengine initialisation config.
        **kwargs: the other arguments of :class:`CAMHead`, which passes the
            :class:`CAMBranch` ones (``num_convs``, ``channels``, ``dropout_ratio``, ...) to
            its branch; see their docstrings (defaults: OAA's 3 convs of 512, N(0, 0.01)).
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 *,
                 loss_soft: dict = dict(type='HybridLoss'),
                 loss_cls: Optional[dict] = None,
                 label_resize_mode: str = 'area',
                 in_index: int = -1,
                 init_cfg: Optional[Union[dict, List[dict]]] = None,
                 **kwargs) -> None:
        if label_resize_mode not in ('area', 'bilinear', 'nearest', 'none'):
            raise ValueError("label_resize_mode must be 'area', 'bilinear', 'nearest' or "
                             f"'none', got {label_resize_mode!r}")
        super().__init__(in_channels, num_classes, in_index=in_index, loss_cls=loss_cls,
                         init_cfg=init_cfg, **kwargs)
        self.label_resize_mode = label_resize_mode
        self.loss_soft = MODELS.build(loss_soft)

    def soft_targets(self, data_samples: Sequence, feature_shape: Sequence[int],
                     device: torch.device) -> tuple:
        """Soft labels at feature resolution and the mask of cells covering an image.

        Returns:
            ``(targets (B, C, h, w), valid bool (B, 1, h, w))``.
        """
        feat_h, feat_w = int(feature_shape[0]), int(feature_shape[1])
        targets = torch.zeros(len(data_samples), self.num_classes, feat_h, feat_w,
                              device=device)
        valid = torch.zeros(len(data_samples), 1, feat_h, feat_w, dtype=torch.bool,
                            device=device)
        for index, sample in enumerate(data_samples):
            if 'gt_soft_maps' not in sample:
                raise ValueError(
                    f'Data sample {_describe(sample)} has no gt_soft_maps: the integral '
                    'attention model needs LoadCumulativeMaps and PackWSSSInputsWithSoftMaps '
                    'in the training pipeline.')
            soft = sample.gt_soft_maps.data.to(device=device, dtype=torch.float32)
            if soft.shape[0] != self.num_classes:
                raise ValueError(f'Data sample {_describe(sample)} has soft labels of '
                                 f'{soft.shape[0]} classes; the head has {self.num_classes}')
            img_shape = sample.metainfo.get('img_shape', soft.shape[-2:])[:2]
            batch_shape = sample.metainfo.get('batch_input_shape', img_shape)
            cells = crop_valid_region(targets[index], batch_shape, img_shape).shape[-2:]
            if self.label_resize_mode == 'none':
                if tuple(soft.shape[-2:]) != tuple(cells):
                    raise ValueError(
                        f'Data sample {_describe(sample)} has soft labels of size '
                        f'{tuple(soft.shape[-2:])} but the image covers {tuple(cells)} feature '
                        "cells; label_resize_mode='none' needs the stored maps of a run with "
                        'the same input geometry and backbone')
                resized = soft
            else:
                kwargs = dict(align_corners=False) if self.label_resize_mode == 'bilinear' \
                    else {}
                resized = F.interpolate(soft[None], size=tuple(cells),
                                        mode=self.label_resize_mode, **kwargs)[0]
            targets[index, :, :cells[0], :cells[1]] = resized.clamp(0, 1)
            valid[index, :, :cells[0], :cells[1]] = True
        return targets, valid

    def loss(self, outputs: Dict[str, Tensor], data_samples: Sequence) -> Dict[str, Tensor]:
        """``loss_soft`` of ``F^`` against the soft labels (+ ``loss_cls`` when configured)."""
        maps = outputs['cams']
        targets, valid = self.soft_targets(data_samples, maps.shape[-2:], maps.device)
        losses = {getattr(self.loss_soft, 'loss_name', 'loss_soft'):
                  self.loss_soft(maps, targets, valid)}
        if self.loss_cls is not None:
            losses.update(super().loss(outputs, data_samples))
        return losses
