"""LargeFOVHead: layer layout, forward shapes, loss, prediction and ImageNet fc init."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from wsss_toolbox.models.decode_heads import LargeFOVHead, vgg16_fc_to_largefov
from wsss_toolbox.registry import MODELS


def _sample(label: torch.Tensor) -> SegDataSample:
    sample = SegDataSample(metainfo=dict(img_shape=tuple(label.shape), pad_shape=tuple(
        label.shape), ori_shape=tuple(label.shape)))
    sample.gt_sem_seg = PixelData(data=label[None].long())
    return sample


def test_registered_and_built_by_name():
    init_default_scope('wsss_toolbox')
    head = MODELS.build(dict(type='LargeFOVHead', in_channels=8, channels=16, num_classes=3))
    assert isinstance(head, LargeFOVHead)
    assert head.ignore_index == 255


def test_default_layout_is_deeplab_largefov():
    head = LargeFOVHead(num_classes=21)
    first, drop6, second = head.convs
    assert (first.conv.in_channels, first.conv.out_channels) == (512, 1024)
    assert first.conv.kernel_size == (3, 3)
    assert first.conv.dilation == (12, 12) and first.conv.padding == (12, 12)
    assert isinstance(first.activate, nn.ReLU) and first.norm_cfg is None
    assert isinstance(drop6, nn.Dropout) and drop6.p == 0.5
    assert second.conv.kernel_size == (1, 1) and second.conv.out_channels == 1024
    # fc7's dropout is cls_seg's; element-wise as in Caffe, not channel-wise Dropout2d
    assert type(head.dropout) is nn.Dropout and head.dropout.p == 0.5
    assert head.conv_seg.in_channels == 1024 and head.conv_seg.out_channels == 21


@pytest.mark.parametrize('num_convs,dilation', [(1, 6), (3, 24)])
def test_configurable_convs_and_dilation(num_convs, dilation):
    head = LargeFOVHead(in_channels=4, channels=6, num_convs=num_convs, dilation=dilation,
                        num_classes=2, out_channels=2)
    convs = [m.conv for m in head.convs if hasattr(m, 'conv')]
    assert len(convs) == num_convs
    assert convs[0].dilation == (dilation, dilation)
    assert all(conv.kernel_size == (1, 1) for conv in convs[1:])


@pytest.mark.parametrize('kwargs', [dict(num_convs=0), dict(kernel_size=2), dict(dilation=0)])
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        LargeFOVHead(in_channels=4, channels=4, num_classes=3, **kwargs)


def test_forward_shapes_and_input_selection():
    head = LargeFOVHead(in_channels=8, channels=16, num_classes=5, in_index=1).eval()
    features = (torch.randn(2, 3, 18, 18), torch.randn(2, 8, 9, 11))
    logits = head(features)
    assert logits.shape == (2, 5, 9, 11)
    # dilation 12 with padding 12 keeps the size even on maps smaller than the dilation
    assert head((None, torch.randn(1, 8, 3, 3))).shape == (1, 5, 3, 3)


@pytest.mark.parametrize('avg_non_ignore', [True, False])
def test_loss_is_cross_entropy_ignoring_255(avg_non_ignore):
    torch.manual_seed(0)
    head = LargeFOVHead(
        in_channels=4, channels=8, num_classes=3, dropout_ratio=0.,
        loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=avg_non_ignore))
    features = (torch.randn(2, 4, 4, 4), )
    label = torch.randint(0, 3, (2, 16, 16))
    label[0, :8] = 255
    label[1, :, :3] = 255
    losses = head.loss(features, [_sample(label[0]), _sample(label[1])], train_cfg=None)
    logits = F.interpolate(head(features), size=(16, 16), mode='bilinear',
                           align_corners=False)
    per_pixel = F.cross_entropy(logits, label, ignore_index=255, reduction='none')
    valid = label != 255
    assert per_pixel[~valid].abs().max() == 0
    # avg_non_ignore=True (our configs): mean over labelled pixels, as Caffe's DeepLab;
    # mmseg's default divides by all pixels
    expected = per_pixel.sum() / (valid.sum() if avg_non_ignore else label.numel())
    assert torch.allclose(losses['loss_ce'], expected, atol=1e-6)
    assert 'acc_seg' in losses
    losses['loss_ce'].backward()
    assert head.conv_seg.weight.grad.abs().sum() > 0
    assert head.convs[0].conv.weight.grad.abs().sum() > 0


def test_predict_resizes_to_input_shape():
    head = LargeFOVHead(in_channels=4, channels=8, num_classes=3).eval()
    logits = head.predict((torch.randn(1, 4, 5, 5), ), [dict(img_shape=(40, 37))],
                          test_cfg=None)
    assert logits.shape == (1, 3, 40, 37)


def _fake_vgg16_classifier(units: int = 8, channels: int = 2) -> dict:
    torch.manual_seed(0)
    return {
        'classifier.0.weight': torch.randn(units, channels * 49),
        'classifier.0.bias': torch.randn(units),
        'classifier.3.weight': torch.randn(units, units),
        'classifier.3.bias': torch.randn(units),
        'classifier.6.weight': torch.randn(10, units),
    }


def test_vgg16_fc_decimation_by_hand():
    state = _fake_vgg16_classifier(units=8, channels=2)
    (w6, b6), (w7, b7) = vgg16_fc_to_largefov(dict(state_dict=state))
    assert w6.shape == (2, 2, 3, 3) and w7.shape == (2, 2, 1, 1)
    fc6 = state['classifier.0.weight']
    # output unit 1 = VGG unit 4; input channel c, kernel tap (i, j) = VGG tap (3i, 3j)
    for c, i, j in [(0, 0, 0), (1, 1, 2), (1, 2, 1)]:
        assert w6[1, c, i, j] == fc6[4, c * 49 + (3 * i) * 7 + 3 * j]
    assert torch.equal(b6, state['classifier.0.bias'][[0, 4]])
    assert w7[1, 0, 0, 0] == state['classifier.3.weight'][4, 0]
    assert torch.equal(b7, state['classifier.3.bias'][[0, 4]])


def test_vgg16_fc_errors():
    with pytest.raises(KeyError, match='classifier.3.weight'):
        vgg16_fc_to_largefov({'classifier.0.weight': torch.zeros(8, 98)}, source='x.pth')
    bad = _fake_vgg16_classifier()
    bad['classifier.0.weight'] = torch.zeros(8, 50)
    with pytest.raises(ValueError, match='not those of VGG-16'):
        vgg16_fc_to_largefov(bad)


def test_head_init_from_fc_checkpoint(tmp_path):
    state = _fake_vgg16_classifier(units=8, channels=2)
    path = str(tmp_path / 'vgg16.pth')
    torch.save(state, path)
    head = LargeFOVHead(in_channels=2, channels=2, num_classes=3, fc_init_checkpoint=path)
    head.init_weights()
    (w6, b6), (w7, b7) = vgg16_fc_to_largefov(state)
    assert torch.equal(head.convs[0].conv.weight, w6)
    assert torch.equal(head.convs[0].conv.bias, b6)
    assert torch.equal(head.convs[2].conv.weight, w7)
    assert torch.equal(head.convs[2].conv.bias, b7)

    mismatched = LargeFOVHead(in_channels=2, channels=4, num_classes=3, fc_init_checkpoint=path)
    with pytest.raises(ValueError, match='DeepLab-LargeFOV layout'):
        mismatched.init_weights()
