"""DeepLab-LargeFOV decode head (DeepLab v1 "LargeFOV" / one DeepLab v2 ASPP branch).

The segmentation network that OAA, SeeNet and MCIS train on their pseudo labels (stage 3):
``fc6`` = 3x3 conv with dilation 12 (1024 channels) -> ReLU -> dropout, ``fc7`` = 1x1 conv
(1024) -> ReLU -> dropout, ``fc8`` = 1x1 classifier (``conv_seg`` of mmseg's
``BaseDecodeHead``). The logits are upsampled to the label size by ``loss_by_feat`` and
trained with softmax cross-entropy, ignoring 255.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.logging import print_log
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import Tensor

from wsss_toolbox.registry import MODELS


@MODELS.register_module()
class LargeFOVHead(BaseDecodeHead):
    """DeepLab-LargeFOV head.

    Args:
        in_channels: channels of the selected backbone feature (512 for VGG-16 pool5,
            2048 for ResNet-101 res5).
        channels: width of the hidden convs (``fc6``/``fc7``), 1024 in DeepLab-LargeFOV.
        num_convs: hidden convs before the classifier (>= 1). The first one is
            ``kernel_size`` x ``kernel_size`` with ``dilation``; the others are 1x1.
        kernel_size: kernel of the first conv (3).
        dilation: dilation of the first conv (12: the "large field of view").
        dropout_ratio: element-wise dropout after every hidden conv (0.5, as Caffe's
            ``drop6``/``drop7``). The last one is ``BaseDecodeHead.cls_seg``'s dropout.
        fc_init_checkpoint: optional path of a torchvision ImageNet VGG-16 checkpoint
            (``vgg16-397923af.pth``). When given, ``init_weights`` initialises ``fc6``/``fc7``
            from the ImageNet ``fc6``/``fc7`` by decimation (see
            :func:`vgg16_fc_to_largefov`), the way DeepLab built its LargeFOV init model.
            Needs ``in_channels=512``, ``channels=1024``, ``num_convs=2``, ``kernel_size=3``.
            The file is read from disk, never downloaded.
        **kwargs: the arguments of mmseg's ``BaseDecodeHead`` (``num_classes``,
            ``in_index``, ``norm_cfg``, ``act_cfg``, ``loss_decode``, ``ignore_index``,
            ``align_corners``, ...).
    """

    def __init__(self,
                 in_channels: int = 512,
                 channels: int = 1024,
                 num_convs: int = 2,
                 kernel_size: int = 3,
                 dilation: int = 12,
                 dropout_ratio: float = 0.5,
                 fc_init_checkpoint: Optional[str] = None,
                 **kwargs) -> None:
        if num_convs < 1:
            raise ValueError(f'LargeFOVHead needs num_convs >= 1, got {num_convs}')
        if dilation < 1 or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError('LargeFOVHead needs an odd kernel_size and dilation >= 1, got '
                             f'kernel_size={kernel_size}, dilation={dilation}')
        super().__init__(in_channels, channels, dropout_ratio=dropout_ratio, **kwargs)
        self.num_convs = num_convs
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.fc_init_checkpoint = fc_init_checkpoint

        layers = []
        for index in range(num_convs):
            first = index == 0
            layers.append(
                ConvModule(
                    self.in_channels if first else channels,
                    channels,
                    kernel_size=kernel_size if first else 1,
                    padding=(kernel_size // 2) * dilation if first else 0,
                    dilation=dilation if first else 1,
                    conv_cfg=self.conv_cfg,
                    norm_cfg=self.norm_cfg,
                    act_cfg=self.act_cfg))
            # the dropout after the last hidden conv is applied by cls_seg
            if index < num_convs - 1 and dropout_ratio > 0:
                layers.append(nn.Dropout(dropout_ratio))
        self.convs = nn.Sequential(*layers)
        # Caffe's DeepLab drops single activations, not whole channels (mmseg: Dropout2d)
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio > 0 else None

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Class logits (B, num_classes, h, w) at the feature resolution."""
        features = self._transform_inputs(inputs)
        return self.cls_seg(self.convs(features))

    def init_weights(self) -> None:
        """mmengine initialisation, then (optionally) ImageNet ``fc6``/``fc7``."""
        super().init_weights()
        if self.fc_init_checkpoint is None:
            return
        state_dict = torch.load(self.fc_init_checkpoint, map_location='cpu', weights_only=True)
        weights = vgg16_fc_to_largefov(state_dict, source=self.fc_init_checkpoint)
        convs = [module.conv for module in self.convs if isinstance(module, ConvModule)]
        layout_ok = (len(convs) == 2 and all(conv.bias is not None for conv in convs)
                     and all(tuple(conv.weight.shape) == tuple(weight.shape)
                             for conv, (weight, _) in zip(convs, weights)))
        if not layout_ok:
            raise ValueError(
                f'fc_init_checkpoint {self.fc_init_checkpoint} gives fc6/fc7 of shapes '
                f'{[tuple(weight.shape) for weight, _ in weights]}, but this head has '
                f'{[tuple(conv.weight.shape) for conv in convs]}; fc initialisation needs the '
                'DeepLab-LargeFOV layout (in_channels=512, channels=1024, num_convs=2, '
                'kernel_size=3, norm_cfg=None) or fc_init_checkpoint=None.')
        with torch.no_grad():
            for conv, (weight, bias) in zip(convs, weights):
                conv.weight.copy_(weight)
                conv.bias.copy_(bias)
        print_log(f'LargeFOVHead: fc6/fc7 initialised from {self.fc_init_checkpoint}',
                  logger='current')


def vgg16_fc_to_largefov(state_dict: dict,
                         source: str = 'state_dict') -> Tuple[Tuple[Tensor, Tensor], ...]:
    """Decimate ImageNet VGG-16 ``fc6``/``fc7`` into LargeFOV's ``fc6``/``fc7`` convs.

    DeepLab (Chen et al., ICLR'15, Sec. 4.1) turns the 7x7xC -> N ``fc6`` (C = 512,
    N = 4096) into a 3x3 dilated conv and thins both fc layers to N / 4 = 1024 channels by
    subsampling. Here: every 3rd tap of the 7x7 kernel (rows/cols 0, 3, 6) and every 4th unit.

    Args:
        state_dict: torchvision VGG-16 weights (``classifier.0`` = fc6, ``classifier.3`` =
            fc7), optionally wrapped in ``{'state_dict': ...}``.
        source: name used in error messages.

    Returns:
        ``((fc6_weight (N/4, C, 3, 3), fc6_bias (N/4,)), (fc7_weight (N/4, N/4, 1, 1),
        fc7_bias (N/4,)))``.
    """
    if isinstance(state_dict.get('state_dict'), dict):
        state_dict = state_dict['state_dict']
    keys = ('classifier.0.weight', 'classifier.0.bias', 'classifier.3.weight',
            'classifier.3.bias')
    missing = [key for key in keys if key not in state_dict]
    if missing:
        raise KeyError(f'{source} is not a torchvision VGG-16 checkpoint: it lacks {missing}')
    fc6_weight, fc7_weight = state_dict['classifier.0.weight'], state_dict['classifier.3.weight']
    num_units, fc6_inputs = fc6_weight.shape
    if (fc6_inputs % 49 or num_units % 4 or tuple(fc7_weight.shape) != (num_units, num_units)):
        raise ValueError(f'{source}: fc6/fc7 weights of shapes {tuple(fc6_weight.shape)} / '
                         f'{tuple(fc7_weight.shape)} are not those of VGG-16 '
                         '((4096, 512 * 7 * 7) / (4096, 4096))')
    fc6_weight = fc6_weight.reshape(num_units, fc6_inputs // 49, 7, 7)[::4, :, ::3, ::3]
    fc6_bias = state_dict['classifier.0.bias'][::4]
    fc7_weight = fc7_weight[::4, ::4].reshape(num_units // 4, num_units // 4, 1, 1)
    fc7_bias = state_dict['classifier.3.bias'][::4]
    return ((fc6_weight.contiguous(), fc6_bias.contiguous()),
            (fc7_weight.contiguous(), fc7_bias.contiguous()))
