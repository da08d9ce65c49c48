"""CAM / OAA classification head: extra convs, class-aware 1x1 conv, global average pooling.

Options from the LID 2020 track-3 winner (Bae et al., "Rethinking class activation mapping
for weakly supervised object localization", ECCV 2020; LID 2020 report §2.3.4), all off by
default:

* ``pooling='tap'``: thresholded average pooling of the features instead of GAP,
  ``TAP(f_k) = sum_ij [f_k > tau_k] f_k / sum_ij [f_k > tau_k]``, ``tau_k = theta * max f_k``;
* ``clamp_negative_weights=True``: inference maps ``sum_k max(w_ck, 0) f_k + b_c`` (the
  negative weights that cancel activations inside objects are set to 0; training unchanged).

The third fix (a percentile instead of the max as the thresholding reference) acts on the
maps, not on the head: ``ThresholdLabelGenerator(percentile=...)`` and the ``scale`` option of
:func:`wsss_toolbox.evaluation.lid.lid_counts`.
"""
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from torch import Tensor, nn

from wsss_toolbox.registry import MODELS
from wsss_toolbox.utils import check_choice

from .base_attention_head import BaseAttentionHead, Features

POOLINGS = ('gap', 'tap')
#: ``'normal'``: every conv N(0, init_std); ``'kaiming_fan_out'``: each conv
#: N(0, sqrt(2 / (k_h * k_w * out_channels))) -- He et al. by fan-out, the rule of
#: GuoleiSun/MCIS_wsss, Classifier/models/vgg.py L90-96 (so the class-aware 1x1 conv gets a
#: far larger std than the 3x3 convs)
INIT_MODES = ('normal', 'kaiming_fan_out')


def thresholded_average_pooling(features: Tensor, threshold: float) -> Tensor:
    """TAP (Bae et al. 2020, Sec. 4.1) of (B, K, h, w) features -> (B, K).

    Each channel is averaged over its pixels strictly above ``threshold`` times its own
    maximum; a channel without such a pixel (e.g. all zero) pools to 0. ``threshold=0`` on
    non-negative features averages the positive pixels only.
    """
    peak = features.amax(dim=(2, 3), keepdim=True)
    selected = (features > threshold * peak).to(features.dtype)
    count = selected.sum(dim=(2, 3))
    total = (features * selected).sum(dim=(2, 3))
    return total / count.clamp(min=1)



class CAMBranch(nn.Module):
    """``num_convs`` x [Conv k x k + (norm) + ReLU] -> dropout -> class-aware 1x1 conv -> GAP.

    A reusable block for heads with several classification branches (SeeNet's S_A, S_B,
    S_C, MCIS's co-attention branches). Convs are initialised N(0, ``init_std``) (or by
    fan-out, ``init_mode``), bias 0, norms to weight 1 / bias 0 -- in the constructor and
    again by :meth:`init_weights`, which mmengine calls instead of the convs' own (Kaiming)
    initialisation.

    Args:
        in_channels: input feature channels.
        num_classes: number C of classes (output maps).
        num_convs: number of extra conv layers; 0 gives plain CAM on the input features.
        channels: width of the extra convs.
        kernel_size: kernel of the extra convs (padding keeps the size).
        dilation: dilation of the extra convs.
        dropout_ratio: dropout before the class-aware conv (0 disables it).
        norm_cfg: optional norm layer of the extra convs (OAA: none).
        act_cfg: activation of the extra convs.
        init_std: std of the normal initialisation (``init_mode='normal'``).
        init_mode: ``'normal'`` (default): every conv, the class-aware one included,
            N(0, ``init_std``); ``'kaiming_fan_out'``: each conv its own std
            ``sqrt(2 / (k_h * k_w * out_channels))`` (``init_std`` unused), the rule of
            MCIS's released code (GuoleiSun/MCIS_wsss, Classifier/models/vgg.py L90-96).
        classifier_bias: whether the class-aware 1x1 conv has a bias.
        pooling: ``'gap'`` (logits = GAP(F), the mean of the class maps) or ``'tap'``
            (logits = classifier(TAP(features)), see :func:`thresholded_average_pooling`).
        tap_threshold: theta of TAP (fraction of each channel's maximum).
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 num_convs: int = 3,
                 channels: int = 512,
                 kernel_size: int = 3,
                 dilation: int = 1,
                 dropout_ratio: float = 0.0,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 init_std: float = 0.01,
                 init_mode: str = 'normal',
                 classifier_bias: bool = True,
                 pooling: str = 'gap',
                 tap_threshold: float = 0.0) -> None:
        super().__init__()
        if num_convs < 0:
            raise ValueError(f'num_convs must be >= 0, got {num_convs}')
        if pooling not in POOLINGS:
            raise ValueError(f'pooling must be one of {POOLINGS}, got {pooling!r}')
        if not 0.0 <= tap_threshold < 1.0:
            raise ValueError(f'tap_threshold must be in [0, 1), got {tap_threshold}')
        self.init_mode = check_choice('init_mode', init_mode, INIT_MODES)
        self.pooling = pooling
        self.tap_threshold = float(tap_threshold)
        self.init_std = init_std
        convs = []
        channels_in = in_channels
        for _ in range(num_convs):
            convs.append(ConvModule(
                channels_in, channels, kernel_size, padding=dilation * (kernel_size // 2),
                dilation=dilation, norm_cfg=norm_cfg, act_cfg=act_cfg))
            channels_in = channels
        self.convs = nn.Sequential(*convs)
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.classifier = nn.Conv2d(channels_in, num_classes, 1, bias=classifier_bias)
        self.init_weights()

    def init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, mean=0.0, std=self.conv_init_std(module))
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, (nn.modules.batchnorm._NormBase, nn.GroupNorm)):
                if module.weight is not None:
                    nn.init.ones_(module.weight)
                    nn.init.zeros_(module.bias)

    def conv_init_std(self, conv: nn.Conv2d) -> float:
        """The std a conv of the branch is initialised with (see ``init_mode``)."""
        if self.init_mode == 'normal':
            return self.init_std
        fan_out = conv.kernel_size[0] * conv.kernel_size[1] * conv.out_channels
        return (2.0 / fan_out)**0.5

    def features(self, x: Tensor) -> Tensor:
        """The features the class-aware conv reads (after the extra convs and dropout)."""
        return self.dropout(self.convs(x))

    def logits_of(self, features: Tensor, maps: Tensor) -> Tensor:
        """Image-level logits: GAP of the maps, or the classifier applied to TAP(features)."""
        if self.pooling == 'gap':
            return maps.mean(dim=(2, 3))
        pooled = thresholded_average_pooling(features, self.tap_threshold)
        return self.classifier(pooled[:, :, None, None]).flatten(1)

    def clamped_maps(self, features: Tensor) -> Tensor:
        """Class maps with the negative classifier weights set to 0 (Bae et al. Sec. 4.2)."""
        return F.conv2d(features, self.classifier.weight.clamp(min=0), self.classifier.bias)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Return ``(maps F (B, C, h, w), logits (B, C))``; with GAP the logits are GAP(F)
        (OAA Eq. 1 before sigma)."""
        features = self.features(x)
        maps = self.classifier(features)
        return maps, self.logits_of(features, maps)


@MODELS.register_module()
class CAMHead(BaseAttentionHead):
    """Class activation map head of CAM / OAA (Sec. 3.1).

    ``F = classifier(convs(feats))`` are the class-aware maps; the image-level score is
    ``p^c = sigma(GAP(F^c))`` (OAA Eq. 1), trained with a sigmoid BCE over the C classes
    (``loss_cls``). Inference maps are ``ReLU(F)``; OAA's online attention (Eq. 2) is
    :func:`wsss_toolbox.models.utils.normalized_attention` of ``outputs['cams']``.

    Args:
        in_channels: channels of the selected backbone output.
        num_classes: number C of foreground classes.
        num_convs, channels, kernel_size, dilation, dropout_ratio, norm_cfg, act_cfg,
        init_std: see :class:`CAMBranch` (OAA: 3 convs of 512, N(0, 0.01)).
        pooling, tap_threshold: GAP or thresholded average pooling (see :class:`CAMBranch`;
            the theta of our LID configs and why: see ``configs/lid/README.md``).
        clamp_negative_weights: inference maps from the classifier weights clamped at 0
            (``outputs['clamped_cams']``); the logits and the loss are unchanged.
        in_index: which backbone output to use.
        loss_cls: classification loss config.
        init_cfg: mmengine initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 num_convs: int = 3,
                 channels: int = 512,
                 kernel_size: int = 3,
                 dilation: int = 1,
                 dropout_ratio: float = 0.0,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 init_std: float = 0.01,
                 pooling: str = 'gap',
                 tap_threshold: float = 0.0,
                 clamp_negative_weights: bool = False,
                 in_index: int = -1,
                 loss_cls: Optional[dict] = dict(type='MultiLabelSoftMarginLoss'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(num_classes=num_classes, in_index=in_index, loss_cls=loss_cls,
                         init_cfg=init_cfg)
        self.in_channels = in_channels
        self.branch = CAMBranch(
            in_channels, num_classes, num_convs=num_convs, channels=channels,
            kernel_size=kernel_size, dilation=dilation, dropout_ratio=dropout_ratio,
            norm_cfg=norm_cfg, act_cfg=act_cfg, init_std=init_std, pooling=pooling,
            tap_threshold=tap_threshold)
        self.clamp_negative_weights = clamp_negative_weights

    def forward(self, feats: Features, data_samples: Optional[list] = None) -> Dict[str, Tensor]:
        x = self.select_input(feats)
        features = self.branch.features(x)
        maps = self.branch.classifier(features)
        outputs = dict(logits=self.branch.logits_of(features, maps), cams=maps)
        if self.clamp_negative_weights:
            outputs['clamped_cams'] = self.branch.clamped_maps(features)
        return outputs

    def localization_maps(self, outputs: Dict[str, Tensor]) -> Tensor:
        """``ReLU(F)``, or ``ReLU`` of the clamped-weight maps with ``clamp_negative_weights``."""
        if self.clamp_negative_weights:
            return torch.relu(outputs['clamped_cams'])
        return super().localization_maps(outputs)
