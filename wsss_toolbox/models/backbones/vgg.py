"""VGG-16 as used in weakly supervised segmentation (DeepLab-LargeFOV, OAA, SeeNet, MCIS)."""
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import Tensor, nn

from wsss_toolbox.registry import MODELS

# (number of 3x3 convs, output channels) of the five VGG-16 stages.
VGG16_STAGES = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))
# Index of every conv layer inside torchvision's ``vgg16().features``, in network order.
TORCHVISION_VGG16_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)


def load_torchvision_checkpoint(path: str) -> Dict[str, Tensor]:
    """Read a torchvision ImageNet checkpoint (a plain state dict, or one wrapped in
    ``state_dict``/``model``) and return its tensors.

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'Pretrained checkpoint "{path}" does not exist. Download torchvision\'s '
            'ImageNet weights (e.g. vgg16-397923af.pth) and set `pretrained` to its path, '
            'or set pretrained=None to train from random initialisation.')
    checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    for wrapper_key in ('state_dict', 'model'):
        if isinstance(checkpoint, dict) and isinstance(checkpoint.get(wrapper_key), dict):
            checkpoint = checkpoint[wrapper_key]
    if not isinstance(checkpoint, dict):
        raise TypeError(f'Pretrained checkpoint "{path}" holds a {type(checkpoint).__name__}, '
                        'expected a state dict (name -> tensor).')
    return checkpoint


@MODELS.register_module()
class VGG16(BaseModule):
    """VGG-16 without pool5 and the fully connected layers.

    ``dilated=True`` (default) is the WSSS/DeepLab-LargeFOV variant: pool1-3 have stride 2,
    pool4 is a 3x3 max pool with stride 1 and padding 1, and the conv5 layers are 3x3
    convs with dilation 2, so the output stride is 8. ``dilated=False`` is the standard
    network (pool4 stride 2, no dilation, output stride 16), as SeeNet uses.

    Stage ``i`` (0..4) is ``conv{i+1}_x`` followed by its pool (stages 0-3); stage 4 ends
    with ``relu5_3`` (512 channels). ``forward`` returns the outputs of ``out_indices`` as
    a tuple, like mmseg backbones, so the class also serves as the stage-3 backbone.

    Args:
        dilated: output stride 8 (True) or 16 (False).
        out_indices: stages whose outputs are returned. Default: the last one.
        frozen_stages: stages ``0..frozen_stages`` get ``requires_grad=False``; -1 freezes none.
        pool_kernel_size: kernel of pool1-3 (and pool4 when not dilated). 3 (stride 2,
            padding 1; default) as DeepLab-LargeFOV's Caffe VGG, giving feature size
            ceil(H / stride); 2 (stride 2, no padding) as torchvision and OAA's released
            PyTorch code (OAA-PyTorch), giving floor(H / stride). Both are compatible with
            the ImageNet weights; the OAA VOC configs use 2.
        in_channels: number of input channels.
        pretrained: path to torchvision's ImageNet ``vgg16-*.pth`` (keys
            ``features.N.weight``); loaded by :meth:`init_weights`.
        torchvision_weights: name of a ``torchvision.models.VGG16_Weights`` entry (e.g.
            ``'IMAGENET1K_V1'``); downloaded by torchvision (needs internet) and loaded by
            :meth:`init_weights`. Mutually exclusive with ``pretrained``.
        init_cfg: mmengine initialisation config.
    """

    def __init__(self,
                 dilated: bool = True,
                 out_indices: Sequence[int] = (4, ),
                 frozen_stages: int = -1,
                 pool_kernel_size: int = 3,
                 in_channels: int = 3,
                 pretrained: Optional[str] = None,
                 torchvision_weights: Optional[str] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if pretrained is not None and torchvision_weights is not None:
            raise ValueError('VGG16: set only one of `pretrained` (a file path) and '
                             '`torchvision_weights` (a torchvision weights name).')
        if pool_kernel_size not in (2, 3):
            raise ValueError(f'VGG16: pool_kernel_size must be 2 or 3, got {pool_kernel_size}')
        num_stages = len(VGG16_STAGES)
        out_indices = tuple(out_indices)
        for index in out_indices:
            if not -num_stages <= index < num_stages:
                raise ValueError(f'VGG16: out_indices {out_indices} must lie in '
                                 f'[0, {num_stages - 1}] (or negative Python indices)')
        self.out_indices = tuple(index % num_stages for index in out_indices)
        if not -1 <= frozen_stages < num_stages:
            raise ValueError(f'VGG16: frozen_stages must be in [-1, {num_stages - 1}], '
                             f'got {frozen_stages}')
        self.frozen_stages = frozen_stages
        self.dilated = dilated
        self.pretrained = pretrained
        self.torchvision_weights = torchvision_weights
        self.out_channels = tuple(channels for _, channels in VGG16_STAGES)

        self.stages = nn.ModuleList()
        self._conv_names: List[str] = []  # 'stages.<i>.conv<i+1>_<j>' in network order
        channels_in = in_channels
        for stage_index, (num_convs, channels) in enumerate(VGG16_STAGES):
            is_last = stage_index == num_stages - 1
            dilation = 2 if (dilated and is_last) else 1
            layers = OrderedDict()
            for conv_index in range(1, num_convs + 1):
                name = f'{stage_index + 1}_{conv_index}'
                layers[f'conv{name}'] = nn.Conv2d(
                    channels_in, channels, 3, padding=dilation, dilation=dilation)
                layers[f'relu{name}'] = nn.ReLU(inplace=True)
                self._conv_names.append(f'stages.{stage_index}.conv{name}')
                channels_in = channels
            if not is_last:
                pool_stride = 1 if (dilated and stage_index == 3) else 2
                if pool_stride == 1:
                    pool = nn.MaxPool2d(3, stride=1, padding=1)
                elif pool_kernel_size == 3:
                    pool = nn.MaxPool2d(3, stride=2, padding=1)
                else:
                    pool = nn.MaxPool2d(2, stride=2)
                layers[f'pool{stage_index + 1}'] = pool
            self.stages.append(nn.Sequential(layers))
        self._freeze_stages()

    @property
    def output_stride(self) -> int:
        return 8 if self.dilated else 16

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        outs = []
        for stage_index, stage in enumerate(self.stages):
            x = stage(x)
            if stage_index in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        for stage_index in range(self.frozen_stages + 1):
            stage = self.stages[stage_index]
            stage.eval()
            for param in stage.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'VGG16':
        super().train(mode)
        self._freeze_stages()
        return self

    def init_weights(self) -> None:
        """Apply ``init_cfg``, then load the ImageNet weights if configured."""
        super().init_weights()
        if self.pretrained is not None:
            state_dict = load_torchvision_checkpoint(self.pretrained)
            self.load_torchvision_state_dict(state_dict, source=self.pretrained)
        elif self.torchvision_weights is not None:
            # lazy: torchvision is loaded only to fetch its VGG16 weights
            from torchvision.models import VGG16_Weights
            try:
                weights = VGG16_Weights[self.torchvision_weights]
            except KeyError:
                raise ValueError(
                    f'VGG16: unknown torchvision_weights "{self.torchvision_weights}"; '
                    f'choose one of {[w.name for w in VGG16_Weights]}') from None
            state_dict = weights.get_state_dict(progress=True)
            self.load_torchvision_state_dict(state_dict, source=f'VGG16_Weights.{weights.name}')

    def load_torchvision_state_dict(self, state_dict: Dict[str, Tensor],
                                    source: str = 'state dict') -> None:
        """Copy the conv weights of a torchvision ``vgg16()`` state dict into this network.

        ``features.N.{weight,bias}`` are mapped to ``stages.i.convX_Y.{weight,bias}``; the
        classifier (FC) weights are ignored.

        Raises:
            KeyError: a conv layer of VGG-16 is missing from ``state_dict``.
            ValueError: a tensor has the wrong shape (e.g. a VGG-19 or VGG-16-BN checkpoint).
        """
        own_state = self.state_dict()
        mapped = {}
        for tv_index, our_name in zip(TORCHVISION_VGG16_CONV_INDICES, self._conv_names):
            for suffix in ('weight', 'bias'):
                tv_key = f'features.{tv_index}.{suffix}'
                our_key = f'{our_name}.{suffix}'
                if tv_key not in state_dict:
                    raise KeyError(
                        f'{source}: key "{tv_key}" not found, so this is not a torchvision '
                        'vgg16 checkpoint (vgg16_bn and vgg19 have other layer indices). '
                        f'Found keys such as {sorted(state_dict)[:4]}.')
                tensor = state_dict[tv_key]
                if tensor.shape != own_state[our_key].shape:
                    raise ValueError(
                        f'{source}: "{tv_key}" has shape {tuple(tensor.shape)} but VGG16 '
                        f'expects {tuple(own_state[our_key].shape)} for "{our_key}" '
                        '(wrong architecture or in_channels).')
                mapped[our_key] = tensor
        self.load_state_dict(mapped, strict=False)
        print_log(f'VGG16: loaded {len(mapped)} ImageNet tensors from {source}',
                  logger='current')
