"""torchvision ResNet-50/101 and ResNeXt-50 (32x4d) / ResNeXt-101 (32x8d) with mmseg-style tuple
outputs (an alternative to mmseg's ``ResNetV1c``, reachable from configs as
``type='ResNetV1c'``)."""
from typing import List, Optional, Sequence, Tuple, Union

from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import Tensor, nn

from wsss_toolbox.registry import MODELS

from .vgg import load_torchvision_checkpoint

# Which of layer2..layer4 get dilation instead of stride, per output stride.
_DILATE_PER_OUTPUT_STRIDE = {8: [False, True, True], 16: [False, False, True],
                             32: [False, False, False]}
# torchvision builders by architecture name; ``depth`` 50/101 means resnet50/resnet101
ARCHITECTURES = ('resnet50', 'resnet101', 'resnext50_32x4d', 'resnext101_32x8d')


@MODELS.register_module()
class TorchvisionResNet(BaseModule):
    """torchvision ``resnet50``/``resnet101``/``resnext50_32x4d``/``resnext101_32x8d`` (stem +
    layer1..layer4, no pooling/FC).

    Args:
        depth: 50 or 101 (``resnet50``/``resnet101``); ignored when ``arch`` is given.
        arch: torchvision architecture name, one of :data:`ARCHITECTURES`.
        output_stride: 8 (layer3/4 dilated), 16 (layer4 dilated) or 32.
        dilate: ``True`` (DeepLab): the stages that keep the resolution use dilation 2 / 4.
            ``False`` (IRN, RPNet): they only drop their stride to 1, without dilation.
        out_indices: which of layer1..layer4 (0..3) to return, as a tuple.
        frozen_stages: -1 none, 0 the stem, k also layer1..layer k.
        norm_eval: keep BatchNorm layers in eval mode during training.
        pretrained: path to torchvision's ImageNet checkpoint of the same architecture
            (e.g. ``resnext50_32x4d-7cdf4587.pth``); loaded by :meth:`init_weights`. Nothing is
            downloaded.
        init_cfg: mmengine initialisation config.
    """

    def __init__(self,
                 depth: int = 50,
                 arch: Optional[str] = None,
                 output_stride: int = 8,
                 dilate: bool = True,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        import torchvision.models as tv_models  # lazy: loaded only for this backbone
        if arch is None:
            if depth not in (50, 101):
                raise ValueError(f'TorchvisionResNet: depth must be 50 or 101, got {depth}')
            arch = f'resnet{depth}'
        if arch not in ARCHITECTURES:
            raise ValueError(f'TorchvisionResNet: arch must be one of {ARCHITECTURES}, '
                             f'got {arch!r}')
        if output_stride not in _DILATE_PER_OUTPUT_STRIDE:
            raise ValueError('TorchvisionResNet: output_stride must be 8, 16 or 32, '
                             f'got {output_stride}')
        if not all(0 <= index < 4 for index in out_indices):
            raise ValueError(f'TorchvisionResNet: out_indices {tuple(out_indices)} must lie '
                             'in [0, 3]')
        self.depth = depth
        self.arch = arch
        self.dilate = dilate
        self.output_stride = output_stride
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.pretrained = pretrained
        self.out_channels = (256, 512, 1024, 2048)

        net = getattr(tv_models, arch)(
            weights=None,
            replace_stride_with_dilation=_DILATE_PER_OUTPUT_STRIDE[output_stride])
        if not dilate:
            for layer, dilated in zip((net.layer2, net.layer3, net.layer4),
                                      _DILATE_PER_OUTPUT_STRIDE[output_stride]):
                if dilated:
                    _undilate(layer)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layer1, self.layer2 = net.layer1, net.layer2
        self.layer3, self.layer4 = net.layer3, net.layer4
        self._freeze_stages()

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        x = self.stem(x)
        outs = []
        for index, layer in enumerate((self.layer1, self.layer2, self.layer3, self.layer4)):
            x = layer(x)
            if index in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        modules = [self.stem, self.layer1, self.layer2, self.layer3, self.layer4]
        for module in modules[:self.frozen_stages + 1]:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'TorchvisionResNet':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def init_weights(self) -> None:
        """Apply ``init_cfg``, then load the torchvision ImageNet checkpoint if configured."""
        super().init_weights()
        if self.pretrained is None:
            return
        state_dict = load_torchvision_checkpoint(self.pretrained)
        renamed = {}
        for key, tensor in state_dict.items():
            if key.startswith('fc.'):
                continue
            for tv_prefix, our_prefix in (('conv1.', 'stem.0.'), ('bn1.', 'stem.1.')):
                if key.startswith(tv_prefix):
                    key = our_prefix + key[len(tv_prefix):]
                    break
            renamed[key] = tensor
        try:
            missing, unexpected = self.load_state_dict(renamed, strict=False)
        except RuntimeError as error:  # shape mismatch, e.g. a resnet18 checkpoint
            raise ValueError(f'{self.pretrained} does not fit torchvision '
                             f'{self.arch}: {error}') from None
        if missing or unexpected:
            raise KeyError(
                f'{self.pretrained} does not match torchvision {self.arch}: missing '
                f'{missing[:5]}, unexpected {unexpected[:5]}. Use the checkpoint of the '
                'same architecture.')
        print_log(f'TorchvisionResNet: loaded ImageNet weights from {self.pretrained}',
                  logger='current')


def _undilate(layer: nn.Sequential) -> None:
    """Turn a stage that torchvision built dilated (stride 1) into one with stride 1 and no
    dilation: every 3x3 conv gets dilation 1 and padding 1 (IRN/RPNet's strides (2, 2, 2, 1))."""
    for module in layer.modules():
        if isinstance(module, nn.Conv2d) and module.kernel_size == (3, 3):
            module.dilation = (1, 1)
            module.padding = (1, 1)
