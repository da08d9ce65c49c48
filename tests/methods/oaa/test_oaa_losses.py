"""Hybrid loss (OAA Eqs. 7-9) and MCE loss (Eq. 6) against hand computations."""
import math

import pytest
import torch

from wsss_toolbox.methods.oaa.losses import HybridLoss, MCELoss
from wsss_toolbox.registry import MODELS


def sig(x):
    return 1 / (1 + math.exp(-x))


# one image, two classes, 2x2 maps; class 1 is absent (p = 0 everywhere)
MAPS = torch.tensor([[[[0.0, 1.0], [-1.0, 2.0]], [[0.5, -0.5], [1.0, 0.0]]]])
P = torch.tensor([[[[0.5, 1.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]]])


def test_hybrid_loss_per_class_by_hand():
    # class 0: N+ = {(0,0): p 0.5, F 0; (0,1): p 1, F 1}, N- = {F -1, F 2}
    enhanced0 = -(0.5 * math.log(sig(0.0)) + 1.0 * math.log(sig(1.0))) / 2  # Eq. 7
    constraint0 = -(math.log(1 - sig(-1.0)) + math.log(1 - sig(2.0))) / 2  # Eq. 8
    # class 1: N+ is empty, N- = all four pixels
    constraint1 = -sum(math.log(1 - sig(v)) for v in (0.5, -0.5, 1.0, 0.0)) / 4
    expected = enhanced0 + constraint0 + constraint1  # Eq. 9
    assert HybridLoss()(MAPS, P).item() == pytest.approx(expected, rel=1e-6)
    # the "EP" ablation (Table 4): enhanced term only
    assert HybridLoss(use_constraint=False)(MAPS, P).item() == pytest.approx(enhanced0, 1e-6)
    # tau = 0.6 moves the p = 0.5 pixel into N-
    enhanced_tau = -math.log(sig(1.0))
    constraint_tau = -(math.log(1 - sig(0.0)) + math.log(1 - sig(-1.0))
                       + math.log(1 - sig(2.0))) / 3
    assert HybridLoss(tau=0.6)(MAPS, P).item() == pytest.approx(
        enhanced_tau + constraint_tau + constraint1, rel=1e-6)


def test_hybrid_loss_pooled_mask_and_batch_mean():
    # pooled (authors' code): one mean over N+ (2 pixels) and one over N- (6 pixels)
    enhanced = -(0.5 * math.log(sig(0.0)) + math.log(sig(1.0))) / 2
    constraint = -sum(math.log(1 - sig(v)) for v in (-1.0, 2.0, 0.5, -0.5, 1.0, 0.0)) / 6
    loss = HybridLoss(reduction='pooled')(MAPS, P)
    assert loss.item() == pytest.approx(enhanced + constraint, rel=1e-6)
    # invalid (padding) pixels are left out: drop the bottom row
    valid = torch.tensor([[[[True, True], [False, False]]]])
    enhanced0 = -(0.5 * math.log(sig(0.0)) + math.log(sig(1.0))) / 2
    constraint1 = -(math.log(1 - sig(0.5)) + math.log(1 - sig(-0.5))) / 2
    assert HybridLoss()(MAPS, P, valid).item() == pytest.approx(enhanced0 + constraint1, 1e-6)
    # a batch of two copies has the same (mean) loss
    assert HybridLoss()(MAPS.repeat(2, 1, 1, 1), P.repeat(2, 1, 1, 1)).item() == \
        pytest.approx(HybridLoss()(MAPS, P).item(), rel=1e-6)


def test_mce_loss_eq6_by_hand_and_gradients():
    def bce(p, f):
        return -(p * math.log(sig(f)) + (1 - p) * math.log(1 - sig(f)))

    class0 = (bce(0.5, 0.0) + bce(1.0, 1.0) + bce(0.0, -1.0) + bce(0.0, 2.0)) / 4
    class1 = sum(bce(0.0, v) for v in (0.5, -0.5, 1.0, 0.0)) / 4
    assert MCELoss()(MAPS, P).item() == pytest.approx(class0 + class1, rel=1e-6)
    maps = MAPS.clone().requires_grad_(True)
    loss = MODELS.build(dict(type='HybridLoss', loss_weight=2.0))(maps, P)
    loss.backward()
    assert torch.isfinite(maps.grad).all() and maps.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='B, C, h, w'):
        HybridLoss()(MAPS[0], P[0])
