import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope

from wsss_toolbox.models.losses import MultiLabelSoftMarginLoss
from wsss_toolbox.registry import MODELS


def test_matches_torch_multilabel_soft_margin_loss():
    torch.manual_seed(0)
    logits = torch.randn(4, 20)
    targets = (torch.rand(4, 20) > 0.7).float()
    loss = MultiLabelSoftMarginLoss()(logits, targets)
    torch.testing.assert_close(loss, F.multilabel_soft_margin_loss(logits, targets))
    weighted = MultiLabelSoftMarginLoss(loss_weight=2.5)(logits, targets)
    torch.testing.assert_close(weighted, 2.5 * loss)


def test_hand_computed_value_and_all_zero_targets():
    # one sample, two classes: -(log sigma(0) + log(1 - sigma(0))) / 2 = log 2
    loss = MultiLabelSoftMarginLoss()(torch.zeros(1, 2), torch.tensor([[1., 0.]]))
    torch.testing.assert_close(loss, torch.log(torch.tensor(2.)))
    # an all-zero target (SeeNet's S_C branch, MCIS contrast) is allowed
    logits = torch.tensor([[-3., 1.]])
    expected = -(torch.log(1 - torch.sigmoid(logits))).mean()
    torch.testing.assert_close(MultiLabelSoftMarginLoss()(logits, torch.zeros(1, 2)), expected)


def test_class_weight_reduction_and_shape_check():
    logits, targets = torch.randn(3, 4), (torch.rand(3, 4) > 0.5).float()
    class_weight = [1., 2., 0., 1.]
    loss = MultiLabelSoftMarginLoss(class_weight=class_weight, reduction='none')(logits, targets)
    expected = F.multilabel_soft_margin_loss(logits, targets, weight=torch.tensor(class_weight),
                                             reduction='none')
    assert loss.shape == (3, )
    torch.testing.assert_close(loss, expected)
    with pytest.raises(ValueError, match='same'):
        MultiLabelSoftMarginLoss()(logits, targets[:, :2])
    with pytest.raises(ValueError, match='reduction'):
        MultiLabelSoftMarginLoss(reduction='max')


def test_built_from_registry():
    init_default_scope('wsss_toolbox')
    loss = MODELS.build(dict(type='MultiLabelSoftMarginLoss', loss_weight=0.5))
    assert isinstance(loss, MultiLabelSoftMarginLoss) and loss.loss_name == 'loss_cls'
