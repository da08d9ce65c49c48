"""SeeNet's head on hand-made maps: M_A, the ternary mask T_A and S_C's mask (thresholds
relative to the max, ground-truth classes only, detached), C-ReLU forward and backward, the
three losses, the inference fusion, the inference options against transcriptions of the
released notebook (houqb/SeeNet vis.ipynb, crelu_layer.py), and the errors for bad input."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.registry import init_default_scope

from wsss_toolbox.methods.seenet import (
    SeeNetHead,
    background_zone_mask,
    c_relu,
    fuse_branch_maps,
    seenet_attention,
    ternary_mask,
)
from wsss_toolbox.models.utils import resize_maps_to_image
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


# --- inference in the order of the released notebook (houqb/SeeNet vis.ipynb, crelu_layer.py) ---
RELEASED = osp.join(REPO_ROOT, 'configs', 'seenet',
                    'seenet-released_vgg16_1xb16-25k_voc12aug-224x224.py')


def released_head(**overrides):
    """The released VOC config's head (its defaults), on 2-channel features, 2 classes, no
    extra convs (each branch = its class-aware 1x1 conv), so every map can be computed by
    hand."""
    cfg = Config.fromfile(RELEASED).model.head
    cfg.update(in_channels=2, num_classes=2, num_convs=0, channels=2, dropout_ratio=0.0)
    cfg.update(overrides)
    return MODELS.build(cfg).eval()


def notebook_att(score_a, score_b, height, width):
    """vis.ipynb L119-125 (cell `forward`), transcribed: bicubic to (width, height), negatives
    to 0, divide by max + 1e-8, element-wise max of the two branches."""
    att1 = cv2.resize(score_a, (width, height), interpolation=cv2.INTER_CUBIC)
    att2 = cv2.resize(score_b, (width, height), interpolation=cv2.INTER_CUBIC)
    att1[att1 < 0] = 0
    att2[att2 < 0] = 0
    att1 = att1 / (np.max(att1) + 1e-8)
    att2 = att2 / (np.max(att2) + 1e-8)
    return np.maximum(att1, att2)


def test_bicubic_before_fusion_is_the_notebook_order_by_hand():
    rng = np.random.default_rng(3)
    cams_a = rng.standard_normal((1, 2, 3, 4)).astype(np.float32)
    cams_b = rng.standard_normal((1, 2, 3, 4)).astype(np.float32)
    assert released_head().inference_resize == 'bicubic_before_fusion'  # the config's default
    head = released_head(inference_erasing='all_classes')  # S_B's maps given here
    outputs = dict(cams=torch.from_numpy(cams_a), cams_b=torch.from_numpy(cams_b),
                   input_shapes=torch.tensor([[24, 32, 24, 32]]))
    maps = head.localization_maps(outputs)
    assert maps.shape == (1, 2, 24, 32)
    for c in range(2):
        np.testing.assert_allclose(maps[0, c].numpy(),
                                   notebook_att(cams_a[0, c], cams_b[0, c], 24, 32), atol=1e-5)
    # the former order (ReLU, / max, max at feature resolution, then bilinear) is another map
    former = resize_maps_to_image(fuse_branch_maps(outputs['cams'], outputs['cams_b']),
                                  (24, 32), (24, 32))
    assert (former - maps).abs().max() > 0.05
    # an image of 20 x 28 in a 24 x 32 padded batch: the padding is 0 and the maximum is taken
    # over the image's pixels
    padded = head.localization_maps(dict(outputs, input_shapes=torch.tensor([[24, 32, 20, 28]])))
    up = F.interpolate(outputs['cams'], size=(24, 32), mode='bicubic', align_corners=False)
    up = F.relu(up)[..., :20, :28]
    up_b = F.relu(F.interpolate(outputs['cams_b'], size=(24, 32), mode='bicubic',
                                align_corners=False))[..., :20, :28]
    expected = torch.maximum(up / (up.amax((-2, -1), keepdim=True) + 1e-8),
                             up_b / (up_b.amax((-2, -1), keepdim=True) + 1e-8))
    torch.testing.assert_close(padded[..., :20, :28], expected)
    assert not padded[..., 20:, :].any() and not padded[..., :, 28:].any()
    with pytest.raises(ValueError, match='network input size'):
        head.localization_maps(dict(outputs, input_shapes=torch.full((1, 4), -1)))
    # the maps are at the input size: map inference's feature-grid aggregation is refused
    with pytest.raises(ValueError, match="aggregation='image_grid'"):
        head(torch.rand(1, 2, 3, 4), [sample([1., 0.], pred_on_feature_grid=True)])


# two classes whose T_A differ: class 0's peak at (0, 0), class 1's at (1, 1)
FEATS = np.array([[[4., 0., 1.], [2., 0., 0.]],  # channel 0 = S_A's map of class 0
                  [[0., 3., 0.], [1., 4., 2.]]], np.float32)  # channel 1 = class 1's


def notebook_crelu(feats, score_a, label, maxt, mint):
    """crelu_layer.py L24-41 (forward), transcribed for one image and a 0/1 label vector."""
    top = feats.copy()
    mask = score_a.copy()
    mask[mask < 0] = 0
    for i in range(len(label)):
        if int(label[i]) == 1:
            ma, mi = np.max(mask[i]), np.min(mask[i])
            mask[i] = (mask[i] - mi) / (ma - mi + 1e-8)
        else:
            mask[i, ...] = 0
    mask = mask.max(axis=0)
    pos = np.where(mask > maxt)
    top[:, pos[0], pos[1]] = 0
    pos1 = np.where(mask < mint)
    top[:, pos1[0], pos1[1]] = top[:, pos1[0], pos1[1]] * -1
    return top


def test_per_class_erasing_is_the_notebook_one_forward_per_class_by_hand():
    head = released_head(inference_resize='bilinear_after_fusion')
    assert head.inference_erasing == 'per_class'  # the released config's default
    w_b = np.array([[1., 1.], [1., -.5]], np.float32)
    with torch.no_grad():
        head.branch_a.classifier.weight.copy_(torch.eye(2)[:, :, None, None])
        head.branch_a.classifier.bias.zero_()
        head.branch_b.classifier.weight.copy_(torch.from_numpy(w_b)[:, :, None, None])
        head.branch_b.classifier.bias.copy_(torch.tensor([.1, .2]))
    label = np.array([1., 1.], np.float32)
    with torch.no_grad():
        outputs = head(torch.from_numpy(FEATS)[None], [sample(label, img_shape=(16, 24))])
        maps = head.localization_maps(outputs)[0].numpy()

    def score_b(top):  # the 1x1 conv of S_B
        return np.einsum('ck,khw->chw', w_b, top) + np.array([.1, .2])[:, None, None]

    def normalise(x):
        x = np.maximum(x, 0)
        return x / max(x.max(), 1e-5)

    for c in range(2):
        # vis.ipynb L114-118: the label blob holds class c only; the map of class c is read
        one_hot = np.eye(2, dtype=np.float32)[c]
        top = notebook_crelu(FEATS, FEATS, one_hot, 0.8, 0.0)
        expected = np.maximum(normalise(FEATS[c]), normalise(score_b(top)[c]))
        np.testing.assert_allclose(maps[c], expected, atol=1e-6)
    # by hand: class 0's T_A erases only (0, 0), so its S_B map (x0 + x1) + .1 keeps (1, 1),
    # where it peaks: [[.1, 3.1, 1.1], [3.1, 4.1, 2.1]] -> 1 there
    np.testing.assert_allclose(maps[0, 1, 1], 1.0, atol=1e-6)
    # today's reading, one T_A from both classes, erases (0, 0) and (1, 1) for both: another map
    joint = released_head(inference_resize='bilinear_after_fusion',
                          inference_erasing='all_classes')
    joint.load_state_dict(head.state_dict())
    with torch.no_grad():
        joint_maps = joint.localization_maps(joint(torch.from_numpy(FEATS)[None],
                                                   [sample(label, img_shape=(16, 24))]))[0]
    top = notebook_crelu(FEATS, FEATS, label, 0.8, 0.0)
    for c in range(2):
        np.testing.assert_allclose(joint_maps[c].numpy(), np.maximum(
            normalise(FEATS[c]), normalise(score_b(top)[c])), atol=1e-6)
    # both tags erase (0, 0) and (1, 1): class 0's S_B map is [[.1, 3.1, 1.1], [3.1, .1, 2.1]]
    # and S_A's is 0 at (1, 1), so the map there is .1 / 3.1 instead of 1
    np.testing.assert_allclose(joint_maps[0, 1, 1], .1 / 3.1, atol=1e-6)


def test_per_class_erasing_keeps_other_images_and_classes_apart():
    """A batch of two images: each (image, class) pass uses that image's features and that
    class's map only; a class the image does not carry keeps the single pass's map."""
    torch.manual_seed(0)
    head = released_head(inference_resize='bilinear_after_fusion',
                         high_threshold=0.5, low_threshold=0.1, threshold_rule='paper')
    feats = torch.rand(2, 2, 3, 4)
    samples = [sample([1., 1.], img_shape=(24, 32)), sample([0., 1.], 'img_b', img_shape=(24, 32))]
    with torch.no_grad():
        outputs = head(feats, samples)
        cams_b = head.per_class_cams_b(outputs)
        for index, c in ((0, 0), (0, 1), (1, 1)):
            one = head(feats[index:index + 1],
                       [sample(np.eye(2, dtype=np.float32)[c], img_shape=(24, 32))])
            torch.testing.assert_close(cams_b[index, c], one['cams_b'][0, c])
    torch.testing.assert_close(cams_b[1, 0], outputs['cams_b'][1, 0])
    with pytest.raises(ValueError, match='inference_erasing'):
        SeeNetHead(in_channels=2, num_classes=2, inference_erasing='per_image')
    with pytest.raises(ValueError, match='inference_resize'):
        SeeNetHead(in_channels=2, num_classes=2, inference_resize='bicubic')
