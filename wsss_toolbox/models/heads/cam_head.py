"""CAM / OAA classification head: extra convs, class-aware 1x1 conv, global average pooling."""
from typing import Dict, List, Optional, Tuple, Union

from mmcv.cnn import ConvModule
from torch import Tensor, nn

from wsss_toolbox.registry import MODELS

from .base_attention_head import BaseAttentionHead, Features


class CAMBranch(nn.Module):
    """``num_convs`` x [Conv k x k + (norm) + ReLU] -> dropout -> class-aware 1x1 conv -> GAP.

    A reusable block for heads with several classification branches (SeeNet's S_A, S_B,
    S_C, MCIS's co-attention branches). Convs are initialised N(0, ``init_std``), bias 0,
    norms to weight 1 / bias 0 -- in the constructor and again by :meth:`init_weights`,
    which mmengine calls instead of the convs' own (Kaiming) initialisation.

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
        init_std: std of the normal initialisation.
        classifier_bias: whether the class-aware 1x1 conv has a bias.
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
                 classifier_bias: bool = True) -> None:
        super().__init__()
        if num_convs < 0:
            raise ValueError(f'num_convs must be >= 0, got {num_convs}')
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
                nn.init.normal_(module.weight, mean=0.0, std=self.init_std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, (nn.modules.batchnorm._NormBase, nn.GroupNorm)):
                if module.weight is not None:
                    nn.init.ones_(module.weight)
                    nn.init.zeros_(module.bias)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Return ``(maps F (B, C, h, w), logits GAP(F) (B, C))`` (OAA Eq. 1 before sigma)."""
        maps = self.classifier(self.dropout(self.convs(x)))
        logits = maps.mean(dim=(2, 3))
        return maps, logits


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
                 in_index: int = -1,
                 loss_cls: Optional[dict] = dict(type='MultiLabelSoftMarginLoss'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(num_classes=num_classes, in_index=in_index, loss_cls=loss_cls,
                         init_cfg=init_cfg)
        self.in_channels = in_channels
        self.branch = CAMBranch(
            in_channels, num_classes, num_convs=num_convs, channels=channels,
            kernel_size=kernel_size, dilation=dilation, dropout_ratio=dropout_ratio,
            norm_cfg=norm_cfg, act_cfg=act_cfg, init_std=init_std)

    def forward(self, feats: Features, data_samples: Optional[list] = None) -> Dict[str, Tensor]:
        x = self.select_input(feats)
        if x.shape[1] != self.in_channels:
            raise ValueError(f'{type(self).__name__} expects {self.in_channels}-channel '
                             'features but the '
                             f'backbone output {self.in_index} has {x.shape[1]}; set '
                             'head.in_channels to the backbone output channels.')
        maps, logits = self.branch(x)
        return dict(logits=logits, cams=maps)
