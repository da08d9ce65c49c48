"""RPNet's head on hand-made features: the confident and part masks, masked average pooling,
group sharing, cosine similarity and the max over prototypes, the Gaussian reweighting,
L_s against a hand computation, the forward of both branches, and bad input."""
import math

import pytest
import torch
from mmengine.registry import init_default_scope

from wsss_toolbox.methods.rpnet import (
    RPNetHead,
    cam_similarity_loss,
    confident_mask,
    discard_part,
    gaussian_kernel,
    gaussian_smooth,
    masked_average_pooling,
    max_normalised_similarity,
    prototype_similarity,
    share_within_groups,
)
from wsss_toolbox.registry import MODELS
from wsss_toolbox.structures import WSSSDataSample

init_default_scope('wsss_toolbox')


def group_samples(labels, group_size):
    samples = []
    for index, label in enumerate(labels):
        sample = WSSSDataSample(metainfo=dict(
            img_id=f'img{index}', group_size=group_size, group_position=index % group_size))
        sample.gt_label = torch.as_tensor(label, dtype=torch.float32)
        samples.append(sample)
    return samples


def test_confident_mask_is_the_channel_max_of_spatially_normalised_features():
    # channel 0 / its max 1: [1, .2, .1, 0]; channel 1 / its max 2: [0, .25, .1, 1]
    features = torch.tensor([[[[1., .2], [.1, 0.]], [[0., .5], [.2, 2.]]]])
    mask = confident_mask(features, threshold=0.3)
    torch.testing.assert_close(mask, torch.tensor([[[[1., 0.], [0., 1.]]]]))
    # a lower threshold takes in the 0.25 pixel
    torch.testing.assert_close(confident_mask(features, threshold=0.24),
                               torch.tensor([[[[1., 1.], [0., 1.]]]]))
    assert not confident_mask(features.requires_grad_(True)).requires_grad


def test_discarded_part_is_a_binary_subset_of_the_mask():
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., :32] = 1
    generator = torch.Generator().manual_seed(0)
    part = discard_part(mask, 0.5, generator=generator)
    assert set(part.unique().tolist()) <= {0., 1.}
    assert torch.all(part <= mask)
    kept = part.sum() / mask.sum()
    assert 0.45 < kept < 0.55
    torch.testing.assert_close(discard_part(mask, 0.0), mask)
    with pytest.raises(ValueError, match='discard_prob'):
        discard_part(mask, 1.0)


def test_masked_average_pooling_by_hand():
    features = torch.tensor([[[[1., 2.], [3., 4.]], [[10., 0.], [0., -2.]]]])
    mask = torch.tensor([[[[1., 0.], [0., 1.]]]])
    prototype = masked_average_pooling(features, mask)
    torch.testing.assert_close(prototype, torch.tensor([[5., 8.]]) / (2 + 5e-4))
    # an empty mask gives the zero prototype
    torch.testing.assert_close(masked_average_pooling(features, torch.zeros_like(mask)),
                               torch.zeros(1, 2))
    with pytest.raises(ValueError, match='does not match'):
        masked_average_pooling(features, torch.ones(1, 1, 3, 3))


def test_every_image_gets_the_prototypes_of_its_group():
    prototypes = torch.arange(4.).reshape(4, 1, 1)  # image i -> prototype [i]
    shared = share_within_groups(prototypes, 2)
    assert shared.squeeze(-1).tolist() == [[0., 1.], [0., 1.], [2., 3.], [2., 3.]]
    with pytest.raises(ValueError, match='groups of 3'):
        share_within_groups(prototypes, 3)


def test_cosine_similarity_and_the_max_over_prototypes():
    features = torch.tensor([[[[1., 1.]], [[0., 1.]]]])  # pixels (1, 0) and (1, 1)
    prototypes = torch.tensor([[[2., 0.], [0., 3.]]])
    similarity = prototype_similarity(features, prototypes)
    half_root = 1 / math.sqrt(2)
    torch.testing.assert_close(similarity,
                               torch.tensor([[[[1., half_root]], [[0., half_root]]]]))
    # max over prototypes [1, 0.707], divided by its spatial max 1 (+1e-5), x 1.3
    expected = 1.3 * torch.tensor([[[[1., half_root]]]]) / (1 + 1e-5)
    torch.testing.assert_close(max_normalised_similarity(similarity, 1.3), expected)


def test_gaussian_kernel_and_reweighting():
    kernel = gaussian_kernel(5, 3.0)
    weights = [math.exp(-d * d / 18) for d in (-2, -1, 0, 1, 2)]
    torch.testing.assert_close(kernel[2, 2], torch.tensor(1 / sum(weights)**2))
    torch.testing.assert_close(kernel.sum(), torch.tensor(1.))
    torch.testing.assert_close(kernel, kernel.T)
    delta = torch.zeros(1, 1, 7, 7)
    delta[..., 3, 3] = 1
    torch.testing.assert_close(gaussian_smooth(delta, kernel)[0, 0, 1:6, 1:6], kernel)
    # a constant map stays constant away from the zero-padded border
    smooth = gaussian_smooth(torch.full((1, 1, 9, 9), 2.), kernel)
    torch.testing.assert_close(smooth[..., 2:7, 2:7], torch.full((1, 1, 5, 5), 2.))
    with pytest.raises(ValueError, match='odd'):
        gaussian_kernel(4, 3.0)


def test_similarity_loss_by_hand():
    cams = torch.tensor([[[[2., 1.]], [[3., -1.]]]])  # class 1 is absent: counts as zeros
    enhanced = torch.tensor([[[[1., 1.]], [[5., 5.]]]])
    labels = torch.tensor([[1., 0.]])
    # original class 0: [1, .5]; enhanced class 0: [1, 1] -> (0 + .25) / 4 entries
    torch.testing.assert_close(cam_similarity_loss(cams, enhanced, labels),
                               torch.tensor(0.0625), atol=1e-4, rtol=0)
    # an extra scale at another resolution (resized, then ReLU): class 0 [3, 3, -1, -1]
    # -> [3, 0] -> mean with [1, 1] = [2, .5] -> normalised [1, .25] -> (0 + .0625) / 4
    extra = torch.tensor([[[[3., 3., -1., -1.]], [[0., 0., 0., 0.]]]])
    loss = cam_similarity_loss(cams, enhanced, labels, [extra])
    torch.testing.assert_close(loss, torch.tensor(0.015625), atol=1e-4, rtol=0)


def test_similarity_loss_normalisation_follows_authors_train_cam():
    """The authors' L_s (step/train_cam.py L93-96, L108): ReLU(ReLU(c) - 1e-5) / (max ReLU(c)
    + 1e-5) * label on both CAMs, mean squared difference; values and gradients."""
    eps = 1e-5
    cams = torch.tensor([[[[-1., 0.5e-5, 2.], [0.25, 8e-6, 1.]]]], requires_grad=True)
    enhanced = torch.tensor([[[[0.5, 3e-6, 1.], [1., 2., -4.]]]], requires_grad=True)
    labels = torch.tensor([[1.]])

    def authors(cam):  # written out from the cited lines, for one class
        positive = cam.clamp(min=0)
        peak = positive.flatten().max() + eps
        return (positive - eps).clamp(min=0) / peak

    expected = ((authors(cams) - authors(enhanced))**2).mean()
    by_hand = torch.tensor([[0., 0., 1.99999], [.24999, 0., .99999]]) / 2.00001 - \
        torch.tensor([[.49999, 0., .99999], [.99999, 1.99999, 0.]]) / 2.00001
    torch.testing.assert_close(expected, (by_hand**2).mean(), atol=1e-7, rtol=0)
    loss = cam_similarity_loss(cams, enhanced, labels)
    torch.testing.assert_close(loss, expected, atol=1e-7, rtol=0)
    ours = torch.autograd.grad(loss, (cams, enhanced))
    theirs = torch.autograd.grad(expected, (cams, enhanced))
    for got, want in zip(ours, theirs):
        torch.testing.assert_close(got, want, atol=1e-7, rtol=1e-6)
    # an activation of 0.5e-5 (below eps) is 0 in the authors' numerator
    assert float(authors(cams.detach())[0, 0, 0, 1]) == 0.0


def identity_head(**kwargs):
    head = RPNetHead(in_channels=2, num_classes=2, channels=2, prototype_indices=(-1, ),
                     discard_prob=0.0, gaussian_sigma=None, enhance_scales=(1.0, ), **kwargs)
    with torch.no_grad():
        head.projection.weight.copy_(torch.eye(2)[..., None, None])
    return head.train()


def test_partner_prototypes_raise_the_similarity_of_matching_pixels():
    # image A: pixels (1, 0), (1, 0), (.2, .2) -- all confident; its prototype (.733, .067).
    # partner B: every pixel (1, 1); its prototype points like A's third pixel.
    image_a = torch.tensor([[[1., 1., .2]], [[0., 0., .2]]])
    image_b = torch.ones(2, 1, 3)
    feats = (torch.stack([image_a, image_b]), )
    labels = [[1., 0.], [1., 0.]]
    own_prototype = torch.tensor([2.2, .2]) / (3 + 5e-4)
    cos_a = [float(torch.cosine_similarity(own_prototype, torch.tensor(v), dim=0))
             for v in ([1., 0.], [1., 0.], [.2, .2])]
    alone = identity_head()(feats[0][:1], group_samples(labels[:1], 1))['similarity']
    expected_alone = [1.3 * c / (max(cos_a) + 1e-5) for c in cos_a]
    torch.testing.assert_close(alone.flatten(), torch.tensor(expected_alone))
    paired = identity_head()(feats, group_samples(labels, 2))['similarity']
    # with B's prototype, A's third pixel reaches cosine 1, the spatial max
    expected_paired = [1.3 * c / (1 + 1e-5) for c in (cos_a[0], cos_a[1], 1.)]
    torch.testing.assert_close(paired[0].flatten(), torch.tensor(expected_paired))


def test_forward_train_and_eval_and_loss_gradients():
    torch.manual_seed(0)
    head = MODELS.build(dict(type='RPNetHead', in_channels=8, num_classes=3, channels=6,
                             prototype_indices=(0, 1), in_index=1))
    feats = (torch.randn(4, 5, 8, 8), torch.randn(4, 8, 4, 4))
    samples = group_samples([[1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 1, 1]], 2)
    outputs = head.train()(feats, samples)
    assert outputs['cams'].shape == outputs['enhanced_cams'].shape == (4, 3, 4, 4)
    assert outputs['logits'].shape == (4, 3)
    torch.testing.assert_close(outputs['enhanced_features'],
                               outputs['similarity'] * outputs['projected'])
    losses = head.loss(outputs, samples)
    assert set(losses) == {'loss_cls', 'loss_similarity', 'confident_coverage'}
    (losses['loss_cls'] + losses['loss_similarity']).backward()
    assert head.projection.weight.grad.abs().sum() > 0
    assert all(c.weight.grad.abs().sum() > 0 for c in head.classifiers)  # anchor + partner
    # inference: the original branch of single images, the anchor's classifier
    head.eval()
    with torch.no_grad():
        single = head(feats, None)
    assert 'enhanced_cams' not in single
    torch.testing.assert_close(head.localization_maps(single), single['cams'].clamp(min=0))
    torch.testing.assert_close(single['cams'], head.classifiers[0](head.projection(feats[1])))


def test_paper_options_and_non_local():
    torch.manual_seed(0)
    head = RPNetHead(in_channels=8, num_classes=2, channels=4, prototype_indices=(-1, ),
                     similarity_loss='feature', cls_loss_branch='enhanced', non_local=True,
                     full_mask_prototypes=False, separate_partner_head=False,
                     enhance_scales=(1.0, )).train()
    feats = (torch.randn(2, 8, 4, 4), )
    samples = group_samples([[1, 0], [1, 1]], 2)
    outputs = head(feats, samples)
    losses = head.loss(outputs, samples)
    expected = 2 * 10 * (outputs['enhanced_features'] - outputs['projected']).pow(2).mean()
    torch.testing.assert_close(losses['loss_similarity'], expected)
    assert len(head.classifiers) == 1
    # the non-local blocks start as the identity (zero-initialised BN)
    block = head.non_local['original'][0].eval()
    x = torch.randn(1, 4, 3, 3)
    torch.testing.assert_close(block(x), x)


def test_training_without_groups_is_an_error():
    head = RPNetHead(in_channels=8, num_classes=2, channels=4, prototype_indices=(-1, )).train()
    sample = WSSSDataSample(metainfo=dict(img_id='a'))
    sample.gt_label = torch.tensor([1., 0.])
    with pytest.raises(ValueError, match='ImageGroupDataset'):
        head((torch.randn(1, 8, 4, 4), ), [sample])
    with pytest.raises(ValueError, match='out of range'):
        RPNetHead(in_channels=8, num_classes=2, prototype_indices=(0, 3)).train()(
            (torch.randn(2, 8, 4, 4), ), group_samples([[1, 0], [1, 0]], 2))
    with pytest.raises(ValueError, match='start with 1.0'):
        RPNetHead(in_channels=8, num_classes=2, enhance_scales=(0.5, 1.0))
