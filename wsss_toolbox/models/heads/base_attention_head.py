"""Contract shared by every stage-1 attention head (CAM, OAA's integral attention model,
SeeNet, MCIS co-attention, RPNet, ...)."""
from abc import ABCMeta, abstractmethod
from typing import Any, Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from wsss_toolbox.registry import MODELS

from .outputs import as_head_outputs

Features = Union[Tensor, Sequence[Tensor]]


class BaseAttentionHead(BaseModule, metaclass=ABCMeta):
    """Base class of attention heads used by :class:`WSSSClassifier`.

    Subclasses implement :meth:`forward`; they may override :meth:`loss` (extra losses,
    pixel-level soft labels, image pairs) and :meth:`localization_maps` (e.g. fusing
    several branches) without any change to the classifier.

    Contract:
        * ``forward(feats, data_samples=None) -> dict`` with at least ``logits`` (B, C)
          and ``cams`` (B, C, h, w), the raw class activation maps ``F`` before any ReLU. Extra
          keys are allowed (other branches, masks, ...). ``data_samples`` is optional and
          only needed by heads whose forward depends on the labels (e.g. SeeNet erasing).
          Calling the head returns the dict as :class:`~.outputs.HeadOutputs`, where
          v0.1.0's key ``'maps'`` still reads and writes ``'cams'`` (with a
          ``DeprecationWarning``; removed in v0.3.0).
        * ``loss(outputs, data_samples) -> dict`` of loss tensors, keys containing ``'loss'``.
        * ``localization_maps(outputs) -> (B, C, h, w)`` non-negative maps for inference.

    Args:
        num_classes: number C of foreground classes.
        in_index: which backbone output the head reads when given a tuple.
        loss_cls: config of the image-level classification loss applied to ``logits``;
            ``None`` for heads that are not trained with it.
        init_cfg: mmengine initialisation config.
    """

    def __init__(self,
                 num_classes: int,
                 in_index: int = -1,
                 loss_cls: Optional[dict] = dict(type='MultiLabelSoftMarginLoss'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_classes < 1:
            raise ValueError(f'num_classes must be >= 1, got {num_classes}')
        self.num_classes = num_classes
        self.in_index = in_index
        self.loss_cls = MODELS.build(loss_cls) if loss_cls is not None else None
        # registered first, so forward hooks added later (recorders) see the wrapped dict too
        self.register_forward_hook(_wrap_outputs)

    def select_input(self, feats: Features) -> Tensor:
        """The backbone output at ``in_index`` (``feats`` may be a single tensor); a head that
        sets ``self.in_channels`` gets its channel count checked here."""
        x = feats if isinstance(feats, Tensor) else feats[self.in_index]
        expected = getattr(self, 'in_channels', None)
        if expected is not None and x.shape[1] != expected:
            raise ValueError(f'{type(self).__name__} expects {expected}-channel features but '
                             f'the backbone output {self.in_index} has {x.shape[1]}; set '
                             'head.in_channels to the backbone output channels.')
        return x

    @abstractmethod
    def forward(self, feats: Features, data_samples: Optional[list] = None) -> Dict[str, Tensor]:
        """Return ``dict(logits=(B, C), cams=(B, C, h, w), ...)``."""

    def loss(self, outputs: Dict[str, Tensor], data_samples: Sequence) -> Dict[str, Tensor]:
        """Image-level classification loss of ``outputs['logits']`` against ``gt_label``."""
        if self.loss_cls is None:
            raise NotImplementedError(f'{type(self).__name__} has loss_cls=None; it must '
                                      'override loss()')
        labels = self.stack_gt_labels(data_samples, device=outputs['logits'].device)
        name = getattr(self.loss_cls, 'loss_name', 'loss_cls')
        return {name: self.loss_cls(outputs['logits'], labels)}

    def localization_maps(self, outputs: Dict[str, Tensor]) -> Tensor:
        """Non-negative maps used at inference; CAM: ``ReLU(F)``."""
        return F.relu(outputs['cams'])

    def predict_scores(self, outputs: Dict[str, Tensor]) -> Tensor:
        """Class probabilities ``sigma(logits)`` (OAA Eq. 1), shape (B, C)."""
        return torch.sigmoid(outputs['logits'])

    def stack_gt_labels(self, data_samples: Sequence,
                        device: Optional[torch.device] = None) -> Tensor:
        """Stack the multi-hot ``gt_label`` of every data sample into a (B, C) float tensor.

        Raises:
            ValueError: a sample has no ``gt_label`` or a label of the wrong length.
        """
        if not data_samples:
            raise ValueError(f'{type(self).__name__}.loss needs data samples with gt_label')
        labels = []
        for sample in data_samples:
            if 'gt_label' not in sample:
                raise ValueError(
                    f'Data sample {_describe(sample)} has no gt_label; pack image labels '
                    'in the training pipeline (PackWSSSInputs).')
            label = torch.as_tensor(sample.gt_label).flatten().float()
            if label.numel() != self.num_classes:
                raise ValueError(
                    f'Data sample {_describe(sample)} has a gt_label of length '
                    f'{label.numel()} but the head has num_classes={self.num_classes}; set '
                    "num_classes to the number of foreground classes of the dataset.")
            labels.append(label)
        return torch.stack(labels).to(device)


def _wrap_outputs(module: BaseAttentionHead, args: tuple, outputs: Any) -> Any:
    """Forward hook: the head's output dict as :class:`~.outputs.HeadOutputs`."""
    return as_head_outputs(outputs)


def _describe(sample) -> str:
    for key in ('img_id', 'img_path'):
        value = sample.get(key, None) if hasattr(sample, 'get') else None
        if value is not None:
            return f'"{value}"'
    return '(no img_id)'

