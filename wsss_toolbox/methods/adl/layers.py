"""Attention-based Dropout Layer (ADL; Choe & Shim, "Attention-based dropout layer for weakly
supervised object localization", CVPR 2019), used by LID 2020 track-3 entry #5 (LID 2020
report §2.3.7).

On a (B, K, H, W) feature map F during training:

* self-attention map ``A = mean_k F_k`` (B, 1, H, W);
* drop mask ``M_drop = [A < gamma * max_hw A]`` (per image): hides the most discriminative
  region, so the classifier must use the rest of the object;
* importance map ``M_imp = sigmoid(A)``: rewards the discriminative region;
* the output is ``F * M`` with ``M = M_drop`` with probability ``drop_rate``, else ``M_imp``.

At inference (``eval()``) ADL is the identity. It has no parameters.
"""
from functools import partial
from typing import Sequence, Tuple

import torch
from torch import Tensor, nn

from wsss_toolbox.registry import MODELS

SELECTIONS = ('batch', 'image')


def adl_maps(features: Tensor, threshold: float) -> Tuple[Tensor, Tensor]:
    """``(drop mask, importance map)`` of (B, K, H, W) features, each (B, 1, H, W).

    The drop mask is 1 where the channel-mean attention is strictly below ``threshold``
    (gamma) times the image's maximum attention, 0 on the region it drops.
    """
    attention = features.mean(dim=1, keepdim=True)
    peak = attention.amax(dim=(2, 3), keepdim=True)
    drop_mask = (attention < threshold * peak).to(features.dtype)
    return drop_mask, torch.sigmoid(attention)


@MODELS.register_module()
class AttentionDropout(nn.Module):
    """The ADL layer (see the module docstring).

    Args:
        drop_rate: probability of applying the drop mask instead of the importance map
            (the authors: 0.75).
        threshold: gamma, the fraction of the maximum attention above which pixels are
            dropped (the authors: 0.8 to 0.9 depending on backbone and dataset).
        selection: ``'batch'`` -- one draw per forward for the whole batch (the authors'
            code); ``'image'`` -- one draw per image.
    """

    def __init__(self, drop_rate: float = 0.75, threshold: float = 0.8,
                 selection: str = 'batch') -> None:
        super().__init__()
        if not 0.0 <= drop_rate <= 1.0:
            raise ValueError(f'AttentionDropout: drop_rate must be in [0, 1], got {drop_rate}')
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f'AttentionDropout: threshold (gamma) must be in [0, 1], got '
                             f'{threshold}')
        if selection not in SELECTIONS:
            raise ValueError(f'AttentionDropout: selection must be one of {SELECTIONS}, got '
                             f'{selection!r}')
        self.drop_rate = float(drop_rate)
        self.threshold = float(threshold)
        self.selection = selection

    def forward(self, features: Tensor) -> Tensor:
        if not self.training:
            return features
        drop_mask, importance_map = adl_maps(features, self.threshold)
        shape = (1, 1, 1, 1) if self.selection == 'batch' else (features.shape[0], 1, 1, 1)
        use_drop = (torch.rand(shape, device=features.device) < self.drop_rate)
        return features * torch.where(use_drop, drop_mask, importance_map)

    def extra_repr(self) -> str:
        return (f'drop_rate={self.drop_rate}, threshold={self.threshold}, '
                f'selection={self.selection!r}')


def _apply_after(adl: AttentionDropout, position: str, module: nn.Module, inputs,
                 output):
    if not isinstance(output, Tensor) or output.dim() != 4:
        raise TypeError(f'ADL after "{position}": the module returns '
                        f'{type(output).__name__}, not a (B, K, H, W) tensor; choose another '
                        'position (a stage or layer of the backbone).')
    return adl(output)


@MODELS.register_module()
def ADLBackbone(backbone: dict, positions: Sequence[str], drop_rate: float = 0.75,
                threshold: float = 0.8, selection: str = 'batch') -> nn.Module:
    """Build ``backbone`` and insert an ADL layer after each module named in ``positions``
    (names of ``backbone.named_modules()``, e.g. ``'stages.2'``, ``'layer4'``).

    The backbone is returned itself (same class, same state-dict keys, so checkpoints and
    ``init_backbone_from`` work as without ADL); the layers live in its ``adl_layers``
    attribute and act through forward hooks, only in training mode.
    """
    model = MODELS.build(backbone)
    names = dict(model.named_modules())
    positions = list(positions)
    if not positions:
        raise ValueError('ADLBackbone: positions is empty; name at least one module of the '
                         'backbone, e.g. "stages.3".')
    unknown = [position for position in positions if position not in names or not position]
    if unknown:
        top = [name for name in names if name and '.' not in name][:12]
        raise ValueError(f'ADLBackbone: {unknown} are not modules of {type(model).__name__}; '
                       f'its top-level modules are {top} (nested: "stages.2", ...).')
    model.adl_layers = nn.ModuleDict()
    for index, position in enumerate(positions):
        adl = AttentionDropout(drop_rate, threshold, selection)
        model.adl_layers[str(index)] = adl
        names[position].register_forward_hook(partial(_apply_after, adl, position))
    return model
