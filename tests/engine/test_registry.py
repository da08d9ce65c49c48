"""The wsss registries are children of mmseg's: one config names components of both."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from wsss_toolbox import registry
from wsss_toolbox.utils import register_all_modules


@pytest.fixture(autouse=True)
def wsss_scope():
    register_all_modules(init_default_scope=False)
    init_default_scope('wsss')


def test_children_of_mmseg():
    import mmseg.registry as mmseg_registry
    for name in ('MODELS', 'DATASETS', 'TRANSFORMS', 'HOOKS', 'METRICS', 'VISUALIZERS',
                 'LOOPS', 'DATA_SAMPLERS', 'OPTIM_WRAPPERS', 'PARAM_SCHEDULERS'):
        ours = getattr(registry, name)
        assert ours.scope == 'wsss'
        assert ours.parent is getattr(mmseg_registry, name), name
    # the new kinds are roots of their own
    assert registry.LABEL_GENERATORS.parent is None
    assert registry.REFINERS.parent is None


def test_one_config_builds_mmseg_and_toolbox_components():
    cfg = Config(dict(model=dict(
        type='EncoderDecoder',  # mmseg
        backbone=dict(type='ResNetV1c', depth=18, stem_channels=8, base_channels=8,
                      strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), out_indices=(3, )),
        decode_head=dict(type='LargeFOVHead',  # wsss_toolbox
                         in_channels=64, channels=16, num_classes=3, in_index=0))))
    model = registry.MODELS.build(cfg.model)
    assert type(model).__module__.startswith('mmseg')
    assert type(model.decode_head).__module__.startswith('wsss_toolbox')
    out = model(torch.rand(1, 3, 32, 32), mode='tensor')
    assert out.shape == (1, 3, 4, 4)


def test_mmseg_metric_and_toolbox_generator_resolve():
    assert registry.METRICS.get('IoUMetric').__module__.startswith('mmseg')
    generator = registry.LABEL_GENERATORS.build(dict(type='ThresholdLabelGenerator'))
    assert callable(generator)


def test_unknown_type_lists_the_registry():
    with pytest.raises(KeyError, match='NotAComponent'):
        registry.MODELS.build(dict(type='NotAComponent'))
