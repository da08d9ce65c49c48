"""Head outputs renamed in v0.2.0 (``'maps'`` -> ``'cams'``) keep v0.1.0's key for one
version: a plugin head that returns ``'maps'``, or a plugin loss / hook that reads or writes
``outputs['maps']``, works with a DeprecationWarning naming ``'cams'``. Before, each failed
with ``KeyError``."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope

from wsss_toolbox.models.heads import BaseAttentionHead
from wsss_toolbox.models.heads.outputs import HeadOutputs
from wsss_toolbox.registry import MODELS
from wsss_toolbox.structures import WSSSDataSample

NUM_CLASSES = 3


@MODELS.register_module(force=True)
class _V010Head(BaseAttentionHead):
    """A plugin head written for v0.1.0: returns ``maps``, reads ``maps`` in its loss."""

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__(num_classes)
        self.conv = torch.nn.Conv2d(in_channels, num_classes, 1)

    def forward(self, feats, data_samples=None):
        maps = self.conv(self.select_input(feats))
        return dict(logits=maps.mean(dim=(2, 3)), maps=maps)

    def loss(self, outputs, data_samples):
        losses = super().loss(outputs, data_samples)
        losses['loss_area'] = F.relu(outputs['maps']).mean()
        return losses


def _classifier(head):
    init_default_scope('wsss_toolbox')
    return MODELS.build(dict(type='WSSSClassifier',
                             backbone=dict(type='TinyConvNet', base_channels=8), head=head))


def _batch():
    torch.manual_seed(0)
    samples = []
    for index in range(2):
        sample = WSSSDataSample(metainfo=dict(img_id=f'img{index}', img_shape=(32, 32),
                                              ori_shape=(32, 32)))
        sample.gt_label = torch.eye(NUM_CLASSES)[index]
        samples.append(sample)
    inputs = [torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8) for _ in samples]
    return dict(inputs=inputs, data_samples=samples)


def test_a_v010_head_trains_and_infers_with_a_warning():
    model = _classifier(dict(type='_V010Head', in_channels=32, num_classes=NUM_CLASSES))
    data = model.data_preprocessor(_batch(), training=True)
    with pytest.warns(DeprecationWarning, match=r"outputs\['maps'\].*'cams'"):
        losses = model(**data, mode='loss')
    assert {'loss_cls', 'loss_area'} <= set(losses)
    # what the head returned as 'maps' is stored as 'cams' (hooks read train_outputs['cams'])
    assert 'cams' in model.train_outputs and list(model.train_outputs).count('maps') == 0
    with pytest.warns(DeprecationWarning):
        predicted = model(**model.data_preprocessor(_batch()), mode='predict')
    assert predicted[0].pred_maps.shape == (NUM_CLASSES, 32, 32)


def test_reading_maps_from_a_current_head_warns_and_gives_the_cams():
    model = _classifier(dict(type='CAMHead', in_channels=32, num_classes=NUM_CLASSES,
                             num_convs=1, channels=16))
    data = model.data_preprocessor(_batch(), training=True)
    outputs = model.head(model.extract_feat(data['inputs']))
    assert isinstance(outputs, HeadOutputs) and 'maps' not in list(outputs)
    with pytest.warns(DeprecationWarning, match="'cams'"):
        maps = outputs['maps']
    assert maps is outputs['cams']
    model(**data, mode='loss')
    with pytest.warns(DeprecationWarning, match="'cams'"):
        recorded = model.train_outputs['maps']  # a v0.1.0 hook's read
    assert recorded is model.train_outputs['cams']


def test_head_outputs_dict_behaviour():
    outputs = HeadOutputs(logits=1)
    with pytest.warns(DeprecationWarning, match="'cams'"):
        outputs['maps'] = 2
    assert dict(outputs) == dict(logits=1, cams=2)
    with pytest.warns(DeprecationWarning):
        assert 'maps' in outputs and outputs.get('maps') == 2
    assert outputs.get('other', 3) == 3 and 'other' not in outputs
    # a dict that has its own 'maps' (e.g. localization maps of another component) is left
    both = HeadOutputs(cams=1, maps=2)
    assert both['maps'] == 2 and both['cams'] == 1
