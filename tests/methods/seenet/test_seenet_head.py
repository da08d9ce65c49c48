"""SeeNet's head on hand-made maps: M_A, the ternary mask T_A and S_C's mask (thresholds
relative to the max, ground-truth classes only, detached), C-ReLU forward and backward, the
three losses, the inference fusion, and the errors for bad input."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope

from wsss_toolbox.methods.seenet import (
    SeeNetHead,
    background_zone_mask,
    c_relu,
    fuse_branch_maps,
    seenet_attention,
    ternary_mask,
)
from wsss_toolbox.registry import MODELS
from wsss_toolbox.structures import WSSSDataSample

init_default_scope('wsss_toolbox')

# S_A's raw maps of one image (1, 3, 2, 3); classes 0 and 2 are in the image, class 1 is not
CLASS0 = [[-1., 0., 2.], [4., 1., 0.]]  # ReLU -> min 0, max 4 -> [[0, 0, .5], [1, .25, 0]]
CLASS1 = [[9., 9., 9.], [9., 9., 10.]]  # not a ground-truth class: must not count
CLASS2 = [[2., 4., 1.], [1., 1., 1.]]  # min 1, max 4 -> [[1/3, 1, 0], [0, 0, 0]]
CAMS = torch.tensor([[CLASS0, CLASS1, CLASS2]])
LABELS = torch.tensor([[1., 0., 1.]])
M_A = torch.tensor([[[[1 / 3, 1., .5], [1., .25, 0.]]]])


def sample(label, img_id='img_a', **meta):
    data_sample = WSSSDataSample(metainfo=dict(img_id=img_id, **meta))
    data_sample.gt_label = torch.as_tensor(label, dtype=torch.float32)
    return data_sample


def test_attention_is_the_max_of_the_normalised_ground_truth_maps_and_detached():
    cams = CAMS.clone().requires_grad_(True)
    attention = seenet_attention(cams, LABELS)
    torch.testing.assert_close(attention, M_A)
    assert not attention.requires_grad
    # only class 1 in the image: its own min-max map
    torch.testing.assert_close(seenet_attention(CAMS, torch.tensor([[0., 1., 0.]])),
                               torch.tensor([[[[0., 0., 0.], [0., 0., 1.]]]]))


def test_ternary_and_background_masks_of_the_head_maps():
    # delta_h = 0.7, delta_l = 0.05 (peak 1): erased >= .7, background < .05
    torch.testing.assert_close(ternary_mask(M_A), torch.tensor([[[[1., 0., 1.], [0., 1., -1.]]]]))
    # S_C: below (0.7 + 0.05) / 2 = 0.375
    torch.testing.assert_close(background_zone_mask(M_A, 0.375),
                               torch.tensor([[[[1., 0., 0.], [0., 1., 1.]]]]))


# an M_A whose peak is 0.5: every threshold scales with it
HALF = torch.tensor([[[[.5, .36, .34], [.02, .03, .2]]]])


def test_thresholds_are_relative_to_the_maximum():
    # delta_h = .35, delta_l = .025, S_C below .1875
    torch.testing.assert_close(ternary_mask(HALF, 0.7, 0.05),
                               torch.tensor([[[[0., 0., 1.], [-1., 1., 1.]]]]))
    torch.testing.assert_close(background_zone_mask(HALF, 0.375),
                               torch.tensor([[[[0., 0., 0.], [1., 1., 0.]]]]))
    # setting 2: the background zone is zeroed, not negated
    torch.testing.assert_close(ternary_mask(HALF, 0.7, 0.05, flip_background=False),
                               torch.tensor([[[[0., 0., 1.], [0., 1., 1.]]]]))
    # the released layer: absolute, strict 0.8 / 0.0 -- nothing erased or flipped here, and a
    # normalised map is never below 0, so it never flips a sign
    torch.testing.assert_close(ternary_mask(HALF, 0.8, 0.0, rule='released'),
                               torch.ones(1, 1, 2, 3))
    torch.testing.assert_close(background_zone_mask(HALF, 0.4, rule='released'),
                               torch.tensor([[[[0., 1., 1.], [1., 1., 1.]]]]))
    # no attention at all: no zone is known
    zero = torch.zeros(1, 1, 2, 3)
    torch.testing.assert_close(ternary_mask(zero), torch.ones(1, 1, 2, 3))
    torch.testing.assert_close(background_zone_mask(zero), torch.zeros(1, 1, 2, 3))


def test_attention_ignores_the_batch_padding():
    # a 2x2 image in a 2x3 padded batch: the padding column holds a huge value
    cams = torch.tensor([[[[1., 3., 100.], [2., 5., 100.]]]])
    valid = torch.tensor([[[[True, True, False], [True, True, False]]]])
    attention = seenet_attention(cams, torch.tensor([[1.]]), valid)
    torch.testing.assert_close(attention, torch.tensor([[[[0., .5, 0.], [.25, 1., 0.]]]]))
    head = SeeNetHead(in_channels=2, num_classes=1, num_convs=0)
    torch.testing.assert_close(head.valid_cells(
        [sample([1.], img_shape=(16, 16), batch_input_shape=(16, 24))], (2, 3), 'cpu'), valid)


def test_c_relu_forward_and_backward_by_hand():
    x = torch.tensor([[[[-1., 2.], [3., -4.]], [[5., -6.], [0.5, 7.]]]], requires_grad=True)
    mask = torch.tensor([[[[0., -1.], [1., 1.]]]])
    y = c_relu(x, mask)
    torch.testing.assert_close(y, torch.tensor([[[[0., -2.], [3., 0.]], [[0., 0.], [.5, 7.]]]]))
    grad_out = torch.tensor([[[[1., 2.], [3., 4.]], [[5., 6.], [7., 8.]]]])
    y.backward(grad_out)
    # dx = dy * mask * 1[x > 0]
    torch.testing.assert_close(x.grad, torch.tensor([[[[0., -2.], [3., 0.]],
                                                     [[0., 0.], [7., 8.]]]]))
    with pytest.raises(ValueError, match=r'\(B, 1, h, w\)'):
        c_relu(x, torch.ones(1, 2, 2, 2))


def test_branch_inputs_are_the_masked_features():
    """S_B reads max(F, 0) * T_A and S_C reads max(F, 0) * B_C of the forward's own M_A."""
    head = SeeNetHead(in_channels=3, num_classes=3, num_convs=0)
    seen = {}
    for name in ('branch_b', 'branch_c'):
        getattr(head, name).register_forward_hook(
            lambda module, args, out, name=name: seen.__setitem__(name, args[0]))
    feats = torch.randn(2, 3, 4, 5)
    outputs = head(feats, [sample([1., 0., 1.]), sample([0., 1., 0.], 'img_b')])
    relu = feats.clamp(min=0)
    torch.testing.assert_close(seen['branch_b'], relu * outputs['ternary_mask'])
    torch.testing.assert_close(seen['branch_c'], relu * outputs['background_mask'])
    torch.testing.assert_close(outputs['attention'], seenet_attention(
        outputs['cams'], torch.tensor([[1., 0., 1.], [0., 1., 0.]])))
    assert set(outputs['ternary_mask'].unique().tolist()) <= {-1., 0., 1.}


def test_losses_are_three_soft_margin_terms_and_s_c_learns_no_object():
    head = SeeNetHead(in_channels=3, num_classes=3, num_convs=0)
    labels = [sample([1., 0., 1.]), sample([0., 1., 0.], 'img_b')]
    outputs = dict(logits=torch.randn(2, 3), logits_b=torch.randn(2, 3),
                   logits_c=torch.randn(2, 3))
    losses = head.loss(outputs, labels)
    assert sorted(losses) == ['loss_a', 'loss_b', 'loss_c']
    y = torch.tensor([[1., 0., 1.], [0., 1., 0.]])
    torch.testing.assert_close(losses['loss_a'],
                               F.multilabel_soft_margin_loss(outputs['logits'], y))
    torch.testing.assert_close(losses['loss_b'],
                               F.multilabel_soft_margin_loss(outputs['logits_b'], y))
    # all-zero targets: -mean log(1 - sigma(x)) = mean softplus(x)
    torch.testing.assert_close(losses['loss_c'], F.softplus(outputs['logits_c']).mean())


def test_inference_fuses_a_and_b_by_max_and_ignores_c():
    cams_a = torch.tensor([[[[2., 4.], [-1., 0.]]]])  # -> [[.5, 1], [0, 0]]
    cams_b = torch.tensor([[[[3., 0.], [6., 1.5]]]])  # -> [[.5, 0], [1, .25]]
    expected = torch.tensor([[[[.5, 1.], [1., .25]]]])
    torch.testing.assert_close(fuse_branch_maps(cams_a, cams_b), expected)
    head = SeeNetHead(in_channels=1, num_classes=1, num_convs=0)
    outputs = dict(cams=cams_a, cams_b=cams_b, cams_c=torch.full((1, 1, 2, 2), 1e3))
    torch.testing.assert_close(head.localization_maps(outputs), expected)


def test_bad_input_names_the_image():
    head = SeeNetHead(in_channels=3, num_classes=2, num_convs=0)
    feats = torch.randn(2, 3, 4, 4)
    with pytest.raises(ValueError, match='"img_b" has no ground-truth class'):
        head(feats, [sample([1., 0.]), sample([0., 0.], 'img_b')])
    with pytest.raises(ValueError, match='"img_c" has no gt_label'):
        head(feats, [sample([1., 0.]), WSSSDataSample(metainfo=dict(img_id='img_c'))])
    with pytest.raises(ValueError, match='got no data samples'):
        head(feats)
    with pytest.raises(ValueError, match='threshold_rule'):
        SeeNetHead(in_channels=3, num_classes=2, threshold_rule='absolute')


def test_registered_with_the_paper_defaults():
    head = MODELS.build(dict(type='SeeNetHead', in_channels=8, num_classes=2, channels=4))
    assert len(head.branch_a.convs) == 3 and len(head.branch_b.convs) == 3
    assert (head.high_threshold, head.low_threshold, head.sc_threshold) == (0.7, 0.05, 0.375)
    assert head.flip_background and head.threshold_rule == 'paper'
    # separate weights
    assert head.branch_a.classifier.weight.data_ptr() != head.branch_b.classifier.weight.data_ptr()
