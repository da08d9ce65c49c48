"""ADL (Choe & Shim 2019): drop mask and importance map against hand computations, the
drop / importance choice, identity at inference, and ADL inside a backbone."""
import copy

import pytest
import torch
from mmengine.registry import init_default_scope

import wsss_toolbox.methods.adl  # noqa: F401
from wsss_toolbox.methods.adl import AttentionDropout, adl_maps
from wsss_toolbox.registry import MODELS


def hand_features():
    """Two channels whose mean is A = [[0, 1], [2, 4]] (max 4)."""
    first = torch.tensor([[0., 2.], [4., 8.]])
    second = torch.zeros(2, 2)
    return torch.stack([first, second])[None]


def test_drop_mask_and_importance_map_hand_computed():
    drop_mask, importance = adl_maps(hand_features(), threshold=0.5)
    # gamma * max = 2: pixels with A >= 2 are dropped
    torch.testing.assert_close(drop_mask, torch.tensor([[[[1., 1.], [0., 0.]]]]))
    torch.testing.assert_close(importance,
                               torch.sigmoid(torch.tensor([[[[0., 1.], [2., 4.]]]])))
    # gamma 0.2 -> 0.8: only A = 0 survives
    torch.testing.assert_close(adl_maps(hand_features(), 0.2)[0],
                               torch.tensor([[[[1., 0.], [0., 0.]]]]))


def test_layer_selects_drop_mask_or_importance_map_in_training_only():
    features = hand_features()
    always_drop = AttentionDropout(drop_rate=1.0, threshold=0.5).train()
    torch.testing.assert_close(always_drop(features),
                               features * torch.tensor([[[[1., 1.], [0., 0.]]]]))
    never_drop = AttentionDropout(drop_rate=0.0, threshold=0.5).train()
    torch.testing.assert_close(
        never_drop(features), features * torch.sigmoid(torch.tensor([[[[0., 1.], [2., 4.]]]])))
    always_drop.eval()
    assert always_drop(features) is features  # identity at inference


def test_batch_and_per_image_selection():
    features = torch.rand(64, 3, 4, 4) + 0.1
    drop_mask, importance = adl_maps(features, 0.7)
    for selection, expect_mixed in (('batch', False), ('image', True)):
        torch.manual_seed(3)
        out = AttentionDropout(0.5, 0.7, selection).train()(features)
        dropped = torch.tensor([torch.allclose(out[i], features[i] * drop_mask[i])
                               for i in range(64)])
        kept = torch.tensor([torch.allclose(out[i], features[i] * importance[i])
                            for i in range(64)])
        assert bool((dropped ^ kept).all())  # every image got exactly one of the two maps
        assert bool(dropped.any() and kept.any()) == expect_mixed


def test_arguments_are_checked():
    with pytest.raises(ValueError, match='drop_rate'):
        AttentionDropout(drop_rate=1.5)
    with pytest.raises(ValueError, match='threshold'):
        AttentionDropout(threshold=-0.1)
    with pytest.raises(ValueError, match='selection'):
        AttentionDropout(selection='pixel')


def test_adl_backbone_hooks_named_stages():
    init_default_scope('wsss_toolbox')
    plain_cfg = dict(type='TinyConvNet', base_channels=8, out_indices=(3, ))
    torch.manual_seed(0)
    plain = MODELS.build(plain_cfg)
    torch.manual_seed(0)
    with_adl = MODELS.build(dict(type='ADLBackbone', backbone=plain_cfg,
                                 positions=['stages.2', 'stages.3'], drop_rate=1.0,
                                 threshold=0.5))
    assert type(with_adl) is type(plain)
    assert list(with_adl.state_dict()) == list(plain.state_dict())  # same checkpoint keys
    assert len(with_adl.adl_layers) == 2
    images = torch.rand(2, 3, 32, 32)
    plain.eval()
    with_adl.eval()
    torch.testing.assert_close(with_adl(images)[0], plain(images)[0])  # inference: identity
    with_adl.train()
    plain.train()
    out = with_adl(images)[0]
    # the last stage's output went through the drop mask: its most attended pixels are 0
    attention = out.mean(dim=1)
    assert (attention == 0).any() and not torch.allclose(out, plain(images)[0])
    copied = copy.deepcopy(with_adl)  # the hooks follow a copy of the model
    assert copied.adl_layers['0'] is not with_adl.adl_layers['0']
    with pytest.raises(ValueError, match="'stage9'.*top-level modules are \\['stages'\\]"):
        MODELS.build(dict(type='ADLBackbone', backbone=plain_cfg, positions=['stage9']))
