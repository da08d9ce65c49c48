import pytest
import torch
import torchvision
from mmengine.registry import init_default_scope

from wsss_toolbox.models.backbones import VGG16, TinyConvNet, TorchvisionResNet
from wsss_toolbox.registry import MODELS


@pytest.fixture(scope='module')
def torchvision_vgg16_checkpoint(tmp_path_factory):
    """A random torchvision vgg16 state dict on disk. Only ``features`` is built (with
    torchvision's own layer factory), since the 100M-parameter FC layers are slow to
    initialise; a small stand-in FC key checks that the loader ignores them."""
    torch.manual_seed(0)
    from torchvision.models.vgg import cfgs, make_layers
    features = make_layers(cfgs['D'])
    state_dict = {f'features.{key}': value for key, value in features.state_dict().items()}
    state_dict['classifier.6.weight'] = torch.randn(10, 4)
    path = tmp_path_factory.mktemp('ckpt') / 'vgg16-random.pth'
    torch.save(state_dict, path)
    return path, features.eval()


def test_vgg16_dilated_output_stride_8_and_channels():
    model = VGG16(out_indices=(0, 1, 2, 3, 4)).eval()
    outs = model(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [64, 128, 256, 512, 512]
    assert [o.shape[-1] for o in outs] == [32, 16, 8, 8, 8]
    assert model.output_stride == 8
    assert model.stages[4].conv5_1.dilation == (2, 2)
    assert model.stages[3].pool4.stride == 1
    # default: only the last stage; non-multiple-of-8 inputs give ceil(H / 8)
    (last, ) = VGG16().eval()(torch.randn(1, 3, 65, 41))
    assert last.shape == (1, 512, 9, 6)


def test_vgg16_standard_output_stride_16():
    model = VGG16(dilated=False).eval()
    (out, ) = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 512, 4, 4)
    assert model.output_stride == 16
    assert model.stages[4].conv5_1.dilation == (1, 1)


def test_vgg16_loads_torchvision_checkpoint(torchvision_vgg16_checkpoint):
    path, tv_features = torchvision_vgg16_checkpoint
    model = VGG16(dilated=False, pool_kernel_size=2, pretrained=str(path))
    model.init_weights()
    torch.testing.assert_close(model.stages[0].conv1_1.weight, tv_features[0].weight)
    torch.testing.assert_close(model.stages[2].conv3_3.bias, tv_features[14].bias)
    torch.testing.assert_close(model.stages[4].conv5_3.weight, tv_features[28].weight)
    # with torchvision's pooling and no dilation the network is torchvision's minus pool5
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x)[0], tv_features[:30](x))


def test_vgg16_pretrained_errors(tmp_path, torchvision_vgg16_checkpoint):
    missing = tmp_path / 'nowhere' / 'vgg16.pth'
    with pytest.raises(FileNotFoundError, match='nowhere/vgg16.pth'):
        VGG16(pretrained=str(missing)).init_weights()
    bad_keys = tmp_path / 'resnet.pth'
    torch.save({'conv1.weight': torch.zeros(64, 3, 7, 7)}, bad_keys)
    with pytest.raises(KeyError, match='features.0.weight'):
        VGG16(pretrained=str(bad_keys)).init_weights()
    path, _ = torchvision_vgg16_checkpoint
    with pytest.raises(ValueError, match='features.0.weight.*shape'):
        VGG16(in_channels=1, pretrained=str(path)).init_weights()
    with pytest.raises(ValueError, match='only one'):
        VGG16(pretrained=str(path), torchvision_weights='IMAGENET1K_V1')


def test_vgg16_frozen_stages():
    model = VGG16(frozen_stages=1)
    model.train()
    assert not any(p.requires_grad for p in model.stages[0].parameters())
    assert not any(p.requires_grad for p in model.stages[1].parameters())
    assert all(p.requires_grad for p in model.stages[2].parameters())
    assert not model.stages[1].training and model.stages[2].training


def test_tiny_convnet_shapes():
    model = TinyConvNet(out_indices=(0, 1, 2, 3))
    outs = model(torch.randn(2, 3, 128, 128))
    assert [tuple(o.shape[1:]) for o in outs] == [(32, 64, 64), (64, 32, 32), (128, 16, 16),
                                                  (128, 16, 16)]
    (last, ) = TinyConvNet(base_channels=8)(torch.randn(1, 3, 40, 24))
    assert last.shape == (1, 32, 5, 3)


@pytest.mark.parametrize('output_stride, size', [(8, 8), (16, 4)])
def test_torchvision_resnet_output_stride(output_stride, size):
    model = TorchvisionResNet(depth=50, output_stride=output_stride).eval()
    outs = model(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [256, 512, 1024, 2048]
    assert outs[-1].shape[-2:] == (size, size)


def test_torchvision_resnet_loads_checkpoint_and_freezes(tmp_path):
    torch.manual_seed(0)
    net = torchvision.models.resnet50(weights=None)
    path = tmp_path / 'resnet50-random.pth'
    torch.save(net.state_dict(), path)
    model = TorchvisionResNet(depth=50, pretrained=str(path), out_indices=(3, ),
                              frozen_stages=1, norm_eval=True)
    model.init_weights()
    torch.testing.assert_close(model.stem[0].weight, net.conv1.weight)
    torch.testing.assert_close(model.layer4[2].conv3.weight, net.layer4[2].conv3.weight)
    model.train()
    assert not any(p.requires_grad for p in model.layer1.parameters())
    assert all(p.requires_grad for p in model.layer2.parameters())
    assert not model.layer3[0].bn1.training  # norm_eval
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        TorchvisionResNet(pretrained=str(tmp_path / 'missing.pth')).init_weights()


def test_backbones_built_from_registry():
    init_default_scope('wsss_toolbox')
    assert isinstance(MODELS.build(dict(type='VGG16', dilated=False)), VGG16)
    assert isinstance(MODELS.build(dict(type='TinyConvNet')), TinyConvNet)
    # mmseg's ResNets stay reachable without a scope prefix
    resnet = MODELS.build(dict(type='ResNetV1c', depth=18, out_indices=(3, )))
    resnet.eval()  # mmseg's ResNet.train() does not return self
    assert resnet(torch.randn(1, 3, 32, 32))[0].shape[1] == 512


@pytest.mark.parametrize('arch', ['resnext50_32x4d', 'resnet50'])
def test_torchvision_resnet_stride_one_last_stage_without_dilation(arch):
    """IRN/RPNet's layer4: stride 1 and no dilation (output stride 16); random init."""
    model = TorchvisionResNet(arch=arch, output_stride=16, dilate=False,
                              out_indices=(1, 3)).eval()
    mid, last = model(torch.randn(1, 3, 64, 64))
    assert mid.shape == (1, 512, 8, 8) and last.shape == (1, 2048, 4, 4)
    convs = [m for m in model.layer4.modules()
             if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
    assert all(c.dilation == (1, 1) and c.padding == (1, 1) and c.stride == (1, 1)
               for c in convs)
    assert model.layer4[0].downsample[0].stride == (1, 1)
    if arch.startswith('resnext'):
        assert model.layer1[0].conv2.groups == 32


def test_torchvision_resnext_loads_its_checkpoint_only(tmp_path):
    """A resnext checkpoint loads into arch='resnext50_32x4d'; a resnet50 one is refused."""
    torch.manual_seed(0)
    net = torchvision.models.resnext50_32x4d(weights=None)
    path = tmp_path / 'resnext50-random.pth'
    torch.save(net.state_dict(), path)
    model = TorchvisionResNet(arch='resnext50_32x4d', output_stride=16, dilate=False,
                              pretrained=str(path))
    model.init_weights()
    torch.testing.assert_close(model.layer3[1].conv2.weight, net.layer3[1].conv2.weight)
    with pytest.raises(ValueError, match='does not fit torchvision resnet50'):
        TorchvisionResNet(arch='resnet50', pretrained=str(path)).init_weights()
    with pytest.raises(ValueError, match='arch must be one of'):
        TorchvisionResNet(arch='resnext77')
