"""The integral attention head: soft labels at feature resolution, padding, loss, classifier."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from wsss_toolbox.methods.oaa.heads import IntegralAttentionHead
from wsss_toolbox.methods.oaa.losses import HybridLoss
from wsss_toolbox.registry import MODELS
from wsss_toolbox.structures import WSSSDataSample


def _sample(soft, img_shape, batch_shape, label=(1, 0)):
    sample = WSSSDataSample(metainfo=dict(img_id='x', img_shape=img_shape,
                                          batch_input_shape=batch_shape))
    sample.gt_label = torch.tensor(label, dtype=torch.float32)
    sample.gt_soft_maps = PixelData(data=soft)
    return sample


def test_soft_targets_are_cell_averages_and_padding_is_masked():
    head = IntegralAttentionHead(in_channels=4, num_classes=2, num_convs=0)
    soft = torch.zeros(2, 32, 32)
    soft[0, :8, :8] = 1.0  # exactly the top-left 2x2 cells of stride 4
    soft[0, 8:12, 0:4] = 0.5
    targets, valid = head.soft_targets([_sample(soft, (32, 32), (32, 32))], (8, 8), 'cpu')
    assert targets[0, 0, :2, :2].eq(1).all() and targets[0, 0, 2, 0] == 0.5
    assert targets[0, 0].sum() == 4.5 and targets[0, 1].sum() == 0 and valid.all()
    # a 16x32 image in a 32x32 batch covers the top 4 of 8 cell rows
    padded = _sample(torch.ones(2, 16, 32), (16, 32), (32, 32))
    targets, valid = head.soft_targets([padded], (8, 8), 'cpu')
    assert valid[0, 0, :4].all() and not valid[0, 0, 4:].any()
    assert targets[0, :, :4].eq(1).all() and targets[0, :, 4:].eq(0).all()


def test_loss_is_the_hybrid_loss_of_the_maps_and_trains():
    torch.manual_seed(0)
    head = MODELS.build(dict(type='IntegralAttentionHead', in_channels=4, num_classes=2,
                             num_convs=1, channels=8))
    feats = (torch.randn(1, 4, 8, 8), )
    soft = torch.zeros(2, 32, 32)
    soft[0, 8:24, 8:24] = 0.8
    samples = [_sample(soft, (32, 32), (32, 32))]
    outputs = head(feats)
    assert outputs['cams'].shape == (1, 2, 8, 8) and outputs['logits'].shape == (1, 2)
    losses = head.loss(outputs, samples)
    targets, valid = head.soft_targets(samples, (8, 8), 'cpu')
    assert set(losses) == {'loss_hybrid'}
    assert losses['loss_hybrid'].item() == pytest.approx(
        HybridLoss()(outputs['cams'], targets, valid).item())
    optimizer = torch.optim.SGD(head.parameters(), lr=0.5)
    first = None
    for _ in range(20):
        loss = head.loss(head(feats), samples)['loss_hybrid']
        first = loss.item() if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < first
    maps = head.localization_maps(head(feats))[0, 0]
    assert maps[2:6, 2:6].mean() > maps[0, :].mean()  # learnt where the soft label is


def test_missing_soft_labels_and_the_mce_option():
    head = IntegralAttentionHead(in_channels=4, num_classes=2, num_convs=0,
                                 loss_soft=dict(type='MCELoss'))
    sample = WSSSDataSample(metainfo=dict(img_id='nope', img_shape=(32, 32)))
    sample.gt_label = torch.tensor([1.0, 0.0])
    outputs = head((torch.randn(1, 4, 8, 8), ))
    with pytest.raises(ValueError, match='LoadCumulativeMaps'):
        head.loss(outputs, [sample])
    good = _sample(torch.rand(2, 32, 32), (32, 32), (32, 32))
    assert set(head.loss(outputs, [good])) == {'loss_mce'}


def test_in_the_wsss_classifier():
    init_default_scope('wsss_toolbox')
    model = MODELS.build(dict(
        type='WSSSClassifier',
        backbone=dict(type='TinyConvNet', base_channels=8, out_indices=(3, )),
        head=dict(type='IntegralAttentionHead', in_channels=32, num_classes=2, num_convs=1,
                  channels=16)))
    samples = [_sample(torch.rand(2, 32, 24), (32, 24), (32, 24)),
               _sample(torch.rand(2, 24, 24), (24, 24), (32, 24), label=(0, 1))]
    data = model.data_preprocessor(dict(
        inputs=[torch.randint(0, 255, (3, 32, 24), dtype=torch.uint8),
                torch.randint(0, 255, (3, 24, 24), dtype=torch.uint8)],
        data_samples=samples), True)
    losses = model(**data, mode='loss')
    assert torch.isfinite(losses['loss_hybrid'])
    assert model.train_outputs['cams'].shape == (2, 2, 4, 3)
