"""MCIS head on hand-made tensors: co-attention directions (Eqs. 2-4), the contrastive
co-attention (Eqs. 6-8), label algebra, the losses of Eq. 10 and the warm-up, self-pairs."""
import pytest
import torch
import torch.nn.functional as F

from wsss_toolbox.methods.mcis import (
    MCISClassifier,
    MCISHead,
    co_attention,
    contrastive_features,
    group_pairs,
    label_difference,
    label_intersection,
)
from wsss_toolbox.structures import WSSSDataSample
from wsss_toolbox.utils import register_all_modules

register_all_modules(init_default_scope=False)


def identity(x):
    return x


def test_co_attention_directions_on_hand_made_features():
    # m: 1x2 cells (10, 0), (0, 10); n: 1x3 cells (10, 0), (0, 10), (0, 0)
    feat_m = torch.tensor([[[[10., 0.]], [[0., 10.]]]])
    feat_n = torch.tensor([[[[10., 0., 0.]], [[0., 10., 0.]]]])
    co_m, co_n, att_m, att_n = co_attention(feat_m, feat_n, identity)
    assert co_m.shape == (1, 2, 1, 2) and co_n.shape == (1, 2, 1, 3)
    assert att_m.shape == (1, 2, 3) and att_n.shape == (1, 3, 2)
    # column-wise softmax: A_m sums to 1 over m's cells, A_n over n's cells
    torch.testing.assert_close(att_m.sum(1), torch.ones(1, 3))
    torch.testing.assert_close(att_n.sum(1), torch.ones(1, 2))
    # F_m^{m∩n} = F_n A_n is made of n's features: m's cell 0 matches n's cell 0 ...
    torch.testing.assert_close(co_m[0, :, 0], torch.tensor([[10., 0.], [0., 10.]]),
                               atol=1e-3, rtol=0)
    # F_n^{m∩n} = F_m A_m: n's cells 0/1 take m's matching cells; cell 2 (all-zero
    # similarities) the uniform mean of m's features
    torch.testing.assert_close(co_n[0, :, 0], torch.tensor([[10., 0., 5.], [0., 10., 5.]]),
                               atol=1e-3, rtol=0)


def test_co_attention_matches_the_matrix_formula_with_a_linear_w_p():
    torch.manual_seed(0)
    affinity = torch.nn.Linear(3, 3, bias=False)
    feat_m, feat_n = torch.randn(2, 3, 2, 2), torch.randn(2, 3, 3, 1)
    co_m, co_n, _, _ = co_attention(feat_m, feat_n, affinity)
    for b in range(2):
        fm, fn = feat_m[b].reshape(3, -1), feat_n[b].reshape(3, -1)
        p = fm.T @ affinity.weight.T @ fn  # F_m^T W_P F_n, W_P = weight^T
        torch.testing.assert_close(co_m[b].reshape(3, -1), fn @ torch.softmax(p.T, 0))
        torch.testing.assert_close(co_n[b].reshape(3, -1), fm @ torch.softmax(p, 0))


def test_contrastive_features_multiply_the_own_features_by_one_minus_b():
    feat = torch.full((1, 2, 1, 2), 2.)
    co_feat = torch.tensor([[[[1., -1.]], [[0., 0.]]]])
    gate = torch.nn.Conv2d(2, 1, 1, bias=False)
    with torch.no_grad():
        gate.weight.copy_(torch.tensor([[[[100.]], [[5.]]]]))
    own, common = contrastive_features(feat, co_feat, gate)
    torch.testing.assert_close(common[0, 0, 0], torch.tensor([1., 0.]))  # sigma(+-100)
    torch.testing.assert_close(own[0, :, 0], torch.tensor([[0., 2.], [0., 2.]]))


def test_label_algebra():
    lm, ln = torch.tensor([[1., 1., 0.]]), torch.tensor([[0., 1., 1.]])
    assert label_intersection(lm, ln).tolist() == [[0., 1., 0.]]
    assert label_difference(lm, ln).tolist() == [[1., 0., 0.]]
    assert label_difference(ln, lm).tolist() == [[0., 0., 1.]]
    assert label_difference(lm, lm).sum() == 0  # same labels: empty contrastive targets


def samples_of(labels, groups=True, shapes=None):
    samples = []
    for index, label in enumerate(labels):
        meta = dict(img_id=f'img{index}')
        if groups:
            meta.update(group_position=index % 2, group_size=2, group_anchor=index - index % 2)
        if shapes is not None:
            meta.update(img_shape=shapes[index], batch_input_shape=(8, 8))
        sample = WSSSDataSample(metainfo=meta)
        sample.gt_label = torch.tensor(label, dtype=torch.float32)
        samples.append(sample)
    return samples


def small_head(**kwargs):
    torch.manual_seed(0)
    return MCISHead(in_channels=4, num_classes=3, num_convs=0, **kwargs)


LABELS = [[1, 1, 0], [0, 1, 1], [1, 0, 0], [1, 0, 0]]


def ce(logits, targets):
    return F.multilabel_soft_margin_loss(logits, targets)


def test_losses_follow_eq_10_with_the_authors_weighting_and_warm_up():
    head = small_head()
    feats = torch.randn(4, 4, 3, 3)
    samples = samples_of(LABELS)
    assert group_pairs(samples) == [(0, 1), (2, 3)]
    out = head(feats, samples)
    assert out['co_cams'].shape == (2, 2, 3, 3, 3) and out['pair_index'].tolist() == [[0, 1],
                                                                                       [2, 3]]
    labels = torch.tensor(LABELS, dtype=torch.float32)
    with pytest.raises(RuntimeError, match='MCISTrainingHook'):
        head.loss(out, samples)  # warm-up needs the epoch
    head.epoch = 1
    losses = head.loss(out, samples)
    torch.testing.assert_close(losses['loss_basic'],
                               ce(out['logits'][[0, 2, 1, 3]], labels[[0, 2, 1, 3]]))
    common = torch.tensor([[0., 1., 0.], [1., 0., 0.]])
    torch.testing.assert_close(losses['loss_co_att'], ce(
        torch.cat([out['co_logits'][:, 0], out['co_logits'][:, 1]]), torch.cat([common,
                                                                                 common])))
    assert losses['loss_contrast'].item() == 0  # epoch 1 < 2: warm-up
    head.epoch = 2
    losses = head.loss(out, samples)
    expected = ce(out['contrast_logits'][:, 0], torch.tensor([[1., 0., 0.], [0., 0., 0.]])) + \
        ce(out['contrast_logits'][:, 1], torch.tensor([[0., 0., 1.], [0., 0., 0.]]))
    torch.testing.assert_close(losses['loss_contrast'], expected)
    # all contrastive targets empty: skipped (code), kept with the paper's rule ('never')
    same = samples_of([[1, 0, 0], [1, 0, 0]])
    out_same = head(feats[:2], same)
    assert head.loss(out_same, same)['loss_contrast'].item() == 0
    head.contrastive_skip_empty = 'never'
    assert head.loss(out_same, same)['loss_contrast'].item() > 0
    head.contrastive_skip_empty = 'own_side_empty'
    # paper weighting: CE_m + CE_n, twice the code's mean over the 2P rows
    paper = small_head(loss_weighting='paper')
    paper.load_state_dict(head.state_dict())
    paper.epoch = 2
    paper_losses = paper.loss(paper(feats, samples), samples)
    torch.testing.assert_close(paper_losses['loss_basic'], 2 * losses['loss_basic'])
    torch.testing.assert_close(paper_losses['loss_co_att'], 2 * losses['loss_co_att'])


def test_gradients_reach_w_p_and_w_b_and_the_warm_up_keeps_them_in_the_graph():
    head = small_head(contrastive_start_epoch=0)
    feats = torch.randn(4, 4, 3, 3)
    samples = samples_of(LABELS)
    sum(head.loss(head(feats, samples), samples).values()).backward()
    assert head.affinity.weight.grad.abs().sum() > 0
    assert head.common_gate.weight.grad.abs().sum() > 0
    warm = small_head(contrastive_start_epoch=5)
    warm.epoch = 0
    sum(warm.loss(warm(feats, samples), samples).values()).backward()
    assert warm.common_gate.weight.grad is not None  # zero, but present (DDP)
    assert warm.common_gate.weight.grad.abs().sum() == 0


def test_shared_classifier_option_and_basic_only_without_groups():
    shared = small_head(shared_classifier=True)
    assert shared.co_classifier is None
    out = shared(torch.randn(2, 4, 3, 3), samples_of(LABELS[:2], groups=False))
    assert 'pair_index' not in out and out['cams'].shape == (2, 3, 3, 3)
    with pytest.raises(ValueError, match='ClassPairSampler'):
        shared.loss(out, samples_of(LABELS[:2], groups=False))
    with pytest.raises(ValueError, match='co_attention_loss'):
        small_head(co_attention_loss=False)


def test_padded_images_attend_only_to_their_own_cells():
    head = small_head(contrastive_start_epoch=0)
    feats = torch.randn(2, 4, 4, 4)
    # image 0 covers the whole 8x8 input (4x4 cells), image 1 only 4x6 pixels (2x3 cells)
    samples = samples_of(LABELS[:2], shapes=[(8, 8), (4, 6)])
    out = head(feats, samples)
    direct = head.pair_branches(feats[:1], feats[1:, :, :2, :3])
    torch.testing.assert_close(out['co_cams'][0, 0], direct['co_cams_m'][0])
    torch.testing.assert_close(out['co_cams'][0, 1, :, :2, :3], direct['co_cams_n'][0])
    assert out['co_cams'][0, 1, :, 2:].abs().sum() == 0


def test_self_pairs_add_basic_and_co_attention_losses_of_the_anchor_and_its_copy():
    register_all_modules(init_default_scope=False)
    model = MCISClassifier(
        backbone=dict(type='TinyConvNet', base_channels=4, out_indices=(3, ), norm_cfg=None),
        head=dict(type='MCISHead', in_channels=16, num_classes=3, num_convs=0,
                  contrastive_start_epoch=0),
        self_pairs=('flip', ))
    torch.manual_seed(0)
    inputs = torch.randn(4, 3, 16, 16)
    samples = samples_of(LABELS)
    losses = model(inputs, samples, mode='loss')
    assert set(losses) == {'loss_basic', 'loss_co_att', 'loss_contrast', 'loss_self_basic',
                           'loss_self_co_att'}
    head = model.head
    anchor = head.image_branch(model.extract_feat(inputs[[0, 2]]))
    flipped = head.image_branch(model.extract_feat(inputs[[0, 2]].flip(-1)))
    labels = torch.tensor(LABELS, dtype=torch.float32)[[0, 2]]
    torch.testing.assert_close(losses['loss_self_basic'], ce(
        torch.cat([anchor['logits'], flipped['logits']]), torch.cat([labels, labels])))
    co = head.pair_branches(anchor['features'], flipped['features'])
    torch.testing.assert_close(losses['loss_self_co_att'], ce(
        torch.cat([co['co_logits_m'], co['co_logits_n']]), torch.cat([labels, labels])))
    assert model.self_pair_input(inputs, 2.0).shape[-2:] == (32, 32)
    with pytest.raises(ValueError, match='self_pairs'):
        MCISClassifier(backbone=dict(type='TinyConvNet'), head=dict(
            type='MCISHead', in_channels=128, num_classes=3), self_pairs=('rotate', ))


def test_single_image_classes_are_named():
    import numpy as np

    from wsss_toolbox.methods.mcis.hooks import single_image_classes
    labels = np.array([[1, 0, 1], [1, 0, 0], [1, 1, 0]], bool)
    assert single_image_classes(labels, ['a', 'b', 'c'], ['cat', 'dog', 'cow']) == [
        'dog (c)', 'cow (a)']


def authors_contrastive_loss(labels1, labels2, contrast1, contrast2):
    """Transcription of GuoleiSun/MCIS_wsss scripts/train.py L225-232, L257-258, L278-282."""
    label_new = labels1 + labels2
    label_new[label_new != 2] = 0
    label_new[label_new == 2] = 1
    comple1, comple2 = labels1 - label_new, labels2 - label_new
    loss = torch.zeros(())
    if (comple1 > 0).any():
        loss = loss + F.multilabel_soft_margin_loss(contrast1, comple1)
    if (comple2 > 0).any():
        loss = loss + F.multilabel_soft_margin_loss(contrast2, comple2)
    return loss


def test_contrastive_terms_are_left_out_per_side_as_the_authors_train_script():
    head = small_head(contrastive_start_epoch=0)
    assert head.contrastive_skip_empty == 'own_side_empty'  # the default
    torch.manual_seed(1)
    feats = torch.randn(4, 4, 3, 3)
    # side m (anchors) has a class its partner lacks in pair 1; side n never does
    labels = [[1, 1, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0]]
    samples = samples_of(labels)
    out = head(feats, samples)
    contrast_m, contrast_n = out['contrast_logits'][:, 0], out['contrast_logits'][:, 1]
    label_t = torch.tensor(labels, dtype=torch.float32)
    expected = authors_contrastive_loss(label_t[[0, 2]], label_t[[1, 3]], contrast_m, contrast_n)
    # by hand: only side m's term, l_m \ l_n = [[0, 1, 0], [0, 0, 0]]
    torch.testing.assert_close(expected, ce(contrast_m, torch.tensor([[0., 1., 0.],
                                                                      [0., 0., 0.]])))
    torch.testing.assert_close(head.loss(out, samples)['loss_contrast'], expected)
    # the other readings: both terms when either side has targets, or always (Eq. 10)
    both = ce(contrast_m, torch.tensor([[0., 1., 0.], [0., 0., 0.]])) + \
        ce(contrast_n, torch.zeros(2, 3))
    for rule in ('both_sides_empty', 'never'):
        head.contrastive_skip_empty = rule
        torch.testing.assert_close(head.loss(out, samples)['loss_contrast'], both)
    # both sides empty: only 'never' keeps the terms; the others give a graph-keeping zero
    same = samples_of([[1, 0, 0], [1, 0, 0]])
    out_same = head(feats[:2], same)
    for rule, positive in (('own_side_empty', False), ('both_sides_empty', False),
                           ('never', True)):
        head.contrastive_skip_empty = rule
        loss = head.loss(out_same, same)['loss_contrast']
        assert (loss.item() > 0) == positive and loss.requires_grad
    with pytest.raises(ValueError, match='contrastive_skip_empty must be one of'):
        small_head(contrastive_skip_empty='sometimes')


def test_contrastive_skip_empty_booleans_are_deprecated_and_keep_their_old_meaning():
    with pytest.warns(DeprecationWarning, match="'both_sides_empty'"):
        assert small_head(contrastive_skip_empty=True).contrastive_skip_empty == \
            'both_sides_empty'
    with pytest.warns(DeprecationWarning, match="'never'"):
        assert small_head(contrastive_skip_empty=False).contrastive_skip_empty == 'never'


def test_new_layers_are_initialised_by_fan_out_as_the_authors_init_loop():
    # authors (vgg.py L90-96): every conv of their loop N(0, sqrt(2 / (k^2 out))), bias 0; the
    # loop does not reach W_P, W_B or the co-attention classifier (PyTorch's default init)
    torch.manual_seed(0)
    ref = MCISHead(in_channels=16, num_classes=20, num_convs=2, channels=64,
                   init_mode='normal', init_std=1.0)
    torch.manual_seed(0)
    head = MCISHead(in_channels=16, num_classes=20, num_convs=2, channels=64)  # default
    convs = [head.branch.convs[0].conv, head.branch.convs[1].conv, head.branch.classifier]
    ref_convs = [ref.branch.convs[0].conv, ref.branch.convs[1].conv, ref.branch.classifier]
    # by hand: 3x3 convs of 64 -> sqrt(2 / 576) = 0.0589; 1x1 of 20 classes -> 0.3162
    for conv, ref_conv, std in zip(convs, ref_convs, (0.0589256, 0.0589256, 0.3162278)):
        torch.testing.assert_close(conv.weight, ref_conv.weight * std)
        assert torch.all(conv.bias == 0)
    for name in ('affinity', 'common_gate', 'co_classifier'):  # fan_in 64 each
        layer = getattr(head, name)
        assert layer.bias is None
        assert layer.weight.abs().max() <= 1 / 64**0.5  # PyTorch: U(+-1/sqrt(fan_in))
        torch.testing.assert_close(layer.weight, getattr(ref, name).weight)  # not rescaled
    # mmengine's init_weights (the runner's call) keeps the rule
    head.init_weights()
    assert 0.25 < head.branch.classifier.weight.std().item() < 0.38
    assert 0.05 < head.branch.convs[0].conv.weight.std().item() < 0.07
    # init_std alone keeps the old meaning (N(0, init_std)); with fan-out it is an error
    assert small_head(init_std=0.3).branch.init_mode == 'normal'
    with pytest.raises(ValueError, match='ignores init_std'):
        small_head(init_mode='kaiming_fan_out', init_std=0.3)
