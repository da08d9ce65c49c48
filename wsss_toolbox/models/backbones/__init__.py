"""Backbones. mmseg's (``ResNetV1c``, ``ResNet``, ...) are reachable by name too, because
our MODELS registry is a child of mmseg's."""
from .tiny_convnet import TinyConvNet
from .torchvision_resnet import TorchvisionResNet
from .vgg import VGG16, load_torchvision_checkpoint

__all__ = ['VGG16', 'TinyConvNet', 'TorchvisionResNet', 'load_torchvision_checkpoint']
