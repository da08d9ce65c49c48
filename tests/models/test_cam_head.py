import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope

from wsss_toolbox.models.heads import BaseAttentionHead, CAMHead
from wsss_toolbox.models.utils import normalized_attention
from wsss_toolbox.registry import MODELS
from wsss_toolbox.structures import WSSSDataSample


def _sample(label, img_id='img'):
    sample = WSSSDataSample(metainfo=dict(img_id=img_id))
    sample.gt_label = torch.tensor(label, dtype=torch.float32)
    return sample


def _hand_set_head():
    """Plain CAM (no extra convs) whose 1x1 classifier is set by hand:
    F0 = x0, F1 = -x0 + x1 + 2.5, F2 = -x0."""
    head = CAMHead(in_channels=2, num_classes=3, num_convs=0)
    with torch.no_grad():
        head.branch.classifier.weight.copy_(
            torch.tensor([[1., 0.], [-1., 1.], [-1., 0.]]).view(3, 2, 1, 1))
        head.branch.classifier.bias.copy_(torch.tensor([0., 2.5, 0.]))
    x0 = torch.tensor([[1., 2.], [3., 4.]])
    x1 = torch.tensor([[0., 1.], [1., 0.]])
    feats = (torch.stack([x0, x1])[None], )  # backbone tuple, (1, 2, 2, 2)
    return head, feats


def test_cam_head_hand_computed_maps_logits_and_attention():
    head, feats = _hand_set_head()
    outputs = head(feats)
    expected_maps = torch.tensor([[[[1., 2.], [3., 4.]],
                                   [[1.5, 1.5], [0.5, -1.5]],
                                   [[-1., -2.], [-3., -4.]]]])
    torch.testing.assert_close(outputs['cams'], expected_maps)
    # OAA Eq. 1: logits = GAP(F); p = sigma(logits)
    torch.testing.assert_close(outputs['logits'], torch.tensor([[2.5, 0.5, -2.5]]))
    torch.testing.assert_close(head.predict_scores(outputs),
                               torch.sigmoid(torch.tensor([[2.5, 0.5, -2.5]])))
    # inference maps: ReLU(F)
    torch.testing.assert_close(head.localization_maps(outputs), expected_maps.clamp(min=0))
    # OAA Eq. 2: A = ReLU(F) / max(F)
    torch.testing.assert_close(
        normalized_attention(outputs['cams']),
        torch.tensor([[[[0.25, 0.5], [0.75, 1.]], [[1., 1.], [1 / 3, 0.]],
                       [[0., 0.], [0., 0.]]]]))


def test_cam_head_loss_uses_gt_label():
    head, feats = _hand_set_head()
    outputs = head(feats)
    losses = head.loss(outputs, [_sample([1, 0, 1])])
    assert set(losses) == {'loss_cls'}
    expected = F.multilabel_soft_margin_loss(torch.tensor([[2.5, 0.5, -2.5]]),
                                             torch.tensor([[1., 0., 1.]]))
    torch.testing.assert_close(losses['loss_cls'], expected)


def test_cam_head_loss_errors_name_the_sample():
    head, feats = _hand_set_head()
    outputs = head(feats)
    with pytest.raises(ValueError, match='"no_label".*no gt_label'):
        head.loss(outputs, [WSSSDataSample(metainfo=dict(img_id='no_label'))])
    with pytest.raises(ValueError, match='"short".*length 2.*num_classes=3'):
        head.loss(outputs, [_sample([1, 0], img_id='short')])


def test_cam_head_extra_convs_shapes_and_init():
    torch.manual_seed(0)
    head = CAMHead(in_channels=16, num_classes=5, num_convs=3, channels=64, dropout_ratio=0.5)
    convs = [m for m in head.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 4  # 3 extra 3x3 convs + the class-aware 1x1 conv
    assert [c.kernel_size for c in convs] == [(3, 3)] * 3 + [(1, 1)]
    for conv in convs:
        assert torch.all(conv.bias == 0)
        assert 0.005 < conv.weight.std().item() < 0.015  # N(0, 0.01)
    assert any(isinstance(m, torch.nn.Dropout) for m in head.modules())
    feats = (torch.randn(2, 8, 10, 10), torch.randn(2, 16, 6, 7))
    outputs = head(feats)  # in_index=-1 picks the last backbone output
    assert outputs['cams'].shape == (2, 5, 6, 7)
    assert outputs['logits'].shape == (2, 5)
    head.eval()
    outputs = head(feats)
    torch.testing.assert_close(outputs['logits'], outputs['cams'].mean(dim=(2, 3)))


def test_cam_head_init_weights_keeps_normal_init():
    head = CAMHead(in_channels=16, num_classes=4, num_convs=2, channels=32, init_std=0.02)
    head.init_weights()  # ConvModule's own Kaiming init must not take over
    first_conv = head.branch.convs[0].conv
    assert 0.01 < first_conv.weight.std().item() < 0.03


def test_cam_head_checks_channels_and_registry():
    init_default_scope('wsss_toolbox')
    head = MODELS.build(dict(type='CAMHead', in_channels=8, num_classes=2, num_convs=0))
    assert isinstance(head, BaseAttentionHead)
    with pytest.raises(ValueError, match='in_channels'):
        head((torch.randn(1, 4, 3, 3), ))
    with pytest.raises(TypeError):
        BaseAttentionHead(num_classes=2)  # abstract: forward must be implemented


# ------------------------------------------------ LID 2020 track-3 winner's fixes (Bae et al.)
def test_thresholded_average_pooling_hand_computed():
    """x0 = [[1, 2], [3, 4]], x1 = [[0, 1], [1, 0]] (see _hand_set_head)."""
    head, feats = _hand_set_head()
    head.branch.pooling, head.branch.tap_threshold = 'tap', 0.5
    # theta 0.5: x0 keeps 3, 4 (> 2) -> 3.5; x1 keeps 1, 1 (> 0.5) -> 1
    # logits = W [3.5, 1] + b = [3.5, -3.5 + 1 + 2.5, -3.5]
    outputs = head(feats)
    torch.testing.assert_close(outputs['logits'], torch.tensor([[3.5, 0.0, -3.5]]))
    # theta 0: the positive pixels only -> x0: 2.5, x1: 1 (GAP would give 0.5)
    head.branch.tap_threshold = 0.0
    torch.testing.assert_close(head(feats)['logits'], torch.tensor([[2.5, 1.0, -2.5]]))
    # the maps themselves are those of plain CAM
    torch.testing.assert_close(outputs['cams'], _hand_set_head()[0](feats)['cams'])


def test_thresholded_average_pooling_edge_cases_and_gradient():
    from wsss_toolbox.models.heads.cam_head import thresholded_average_pooling
    features = torch.zeros(1, 2, 3, 3)
    features[0, 1, 1, 1] = 2.0
    features.requires_grad_(True)
    pooled = thresholded_average_pooling(features, 0.1)
    torch.testing.assert_close(pooled, torch.tensor([[0.0, 2.0]]))  # all-zero channel -> 0
    pooled.sum().backward()
    assert features.grad[0, 1, 1, 1] == 1.0 and features.grad[0, 0].abs().sum() == 0
    with pytest.raises(ValueError, match='pooling'):
        CAMHead(in_channels=2, num_classes=3, num_convs=0, pooling='max')
    with pytest.raises(ValueError, match='tap_threshold'):
        CAMHead(in_channels=2, num_classes=3, num_convs=0, pooling='tap', tap_threshold=1.0)


def test_negative_weight_clamping_hand_computed():
    """W = [[1, 0], [-1, 1], [-1, 0]] -> max(W, 0) = [[1, 0], [0, 1], [0, 0]]."""
    head, feats = _hand_set_head()
    head.clamp_negative_weights = True
    outputs = head(feats)
    # training signal unchanged: logits and raw maps as plain CAM
    torch.testing.assert_close(outputs['logits'], torch.tensor([[2.5, 0.5, -2.5]]))
    expected = torch.tensor([[[[1., 2.], [3., 4.]],
                              [[2.5, 3.5], [3.5, 2.5]],  # x1 + 2.5 (the -x0 term is gone)
                              [[0., 0.], [0., 0.]]]])
    torch.testing.assert_close(outputs['clamped_cams'], expected)
    torch.testing.assert_close(head.localization_maps(outputs), expected)
    # default: plain ReLU(F), no extra output
    plain, _ = _hand_set_head()
    assert 'clamped_cams' not in plain(feats)
    assert plain.branch.pooling == 'gap' and not plain.clamp_negative_weights


def test_cam_branch_init_modes_default_normal_and_fan_out_by_hand():
    from wsss_toolbox.models.heads import CAMBranch

    torch.manual_seed(3)
    normal = CAMBranch(8, 5, num_convs=2, channels=16, init_std=1.0)
    torch.manual_seed(3)
    fan_out = CAMBranch(8, 5, num_convs=2, channels=16, init_mode='kaiming_fan_out')
    assert normal.init_mode == 'normal'  # the default keeps N(0, init_std) for every conv
    convs_n = [m for m in normal.modules() if isinstance(m, torch.nn.Conv2d)]
    convs_f = [m for m in fan_out.modules() if isinstance(m, torch.nn.Conv2d)]
    # by hand: sqrt(2 / (k * k * out)) -- 3x3 convs of 16: sqrt(2 / 144); 1x1 of 5: sqrt(0.4)
    stds = [(2 / 144)**0.5, (2 / 144)**0.5, 0.4**0.5]
    for conv_n, conv_f, std in zip(convs_n, convs_f, stds):
        # the same draws, scaled: the default path draws exactly what it drew before
        torch.testing.assert_close(conv_f.weight, conv_n.weight * std)
        assert torch.all(conv_f.bias == 0)
    fan_out.init_weights()  # mmengine's call keeps the rule
    assert abs(convs_f[-1].weight.std().item() - 0.4**0.5) < 0.25
    with pytest.raises(ValueError, match='init_mode'):
        CAMBranch(8, 5, init_mode='xavier')
