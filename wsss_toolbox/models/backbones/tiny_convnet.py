"""A small from-scratch backbone for CPU demos and tests."""
from typing import List, Optional, Sequence, Tuple, Union

from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor, nn

from wsss_toolbox.registry import MODELS


@MODELS.register_module()
class TinyConvNet(BaseModule):
    """Four stages of two 3x3 Conv-BN-ReLU each; output stride 8.

    Stages 0-2 start with a stride-2 conv (strides 2, 4, 8); stage 3 keeps stride 8 and
    uses dilation 2 to enlarge the receptive field, mimicking the dilated VGG-16 of WSSS.
    Channels: ``base_channels * (1, 2, 4, 4)`` (32, 64, 128, 128 by default).

    Args:
        in_channels: input channels.
        base_channels: width of the first stage.
        out_indices: stages (0..3) whose outputs are returned, as a tuple.
        norm_cfg: normalisation layer config (mmcv).
        init_cfg: mmengine initialisation config (``ConvModule`` already applies Kaiming
            init to its convs and constant init to its norms).
    """

    def __init__(self,
                 in_channels: int = 3,
                 base_channels: int = 32,
                 out_indices: Sequence[int] = (3, ),
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        widths = [base_channels * factor for factor in (1, 2, 4, 4)]
        strides = (2, 2, 2, 1)
        dilations = (1, 1, 1, 2)
        if not all(-4 <= index < 4 for index in out_indices):
            raise ValueError(f'TinyConvNet: out_indices {tuple(out_indices)} must lie in [0, 3]')
        self.out_indices = tuple(index % 4 for index in out_indices)
        self.out_channels = tuple(widths)
        self.stages = nn.ModuleList()
        channels_in = in_channels
        for width, stride, dilation in zip(widths, strides, dilations):
            self.stages.append(nn.Sequential(
                ConvModule(channels_in, width, 3, stride=stride, padding=1, norm_cfg=norm_cfg),
                ConvModule(width, width, 3, padding=dilation, dilation=dilation,
                           norm_cfg=norm_cfg)))
            channels_in = width

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        outs = []
        for index, stage in enumerate(self.stages):
            x = stage(x)
            if index in self.out_indices:
                outs.append(x)
        return tuple(outs)
