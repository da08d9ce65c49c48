"""The LID 2020 parameter rule (< 150 M parameters for the inference model): counts of the
VOC and LID configs' models, built without weights, against hand counts."""
import pytest
import torch
from mmengine.registry import init_default_scope

from wsss_toolbox.engine.config import load_config
from wsss_toolbox.evaluation import (
    PARAMETER_LIMIT,
    count_parameters,
    format_parameter_rule,
    parameter_rule,
)
from wsss_toolbox.registry import MODELS

# torchvision's VGG-16 conv layers (features), the OAA head: 3 x (3x3, 512 -> 512) + 1x1
VGG16_CONVS = 14_714_688
OAA_HEAD_CONVS = 3 * (512 * 512 * 9 + 512)


def build(config):
    """The config's model on the meta device: shapes only, no memory, no initialisation."""
    init_default_scope('wsss_toolbox')
    with torch.device('meta'):
        return MODELS.build(load_config(config).model)


@pytest.mark.parametrize('config, num_classes', [
    ('configs/cam/cam_vgg16_1xb5-15e_voc12aug-224x224.py', 20),
    ('configs/lid/cam_vgg16_1xb16-10e_lid200-224x224.py', 200),
])
def test_stage1_models_hand_counted(config, num_classes):
    model = build(config)
    expected = VGG16_CONVS + OAA_HEAD_CONVS + 512 * num_classes + num_classes
    report = parameter_rule(model)
    assert report == dict(parameters=expected, limit=PARAMETER_LIMIT, within_limit=True)


@pytest.mark.parametrize('config, num_classes', [
    ('configs/deeplab/deeplab-largefov_r101_1xb10-15k_voc12aug-pseudo-321x321.py', 21),
    ('configs/lid/deeplab-largefov_r101_1xb10-40k_lid200-pseudo-321x321.py', 201),
])
def test_stage3_models_within_the_rule(config, num_classes):
    model = build(config)
    classifier = model.decode_head.conv_seg
    assert classifier.out_channels == num_classes
    count = count_parameters(model)
    # ResNetV1c-101 + LargeFOV (3x3 2048 -> 1024, 1x1 1024 -> 1024, 1x1 -> C)
    head = 2048 * 1024 * 9 + 1024 + 1024 * 1024 + 1024 + 1024 * num_classes + num_classes
    assert count - head == 42_519_392  # ResNetV1c-101 (deep stem), the same for VOC and LID
    assert count < PARAMETER_LIMIT
    assert parameter_rule(model)['within_limit']


def test_rule_flags_large_models_and_counts_shared_weights_once():
    with torch.device('meta'):  # no memory for 150 M parameters
        large = torch.nn.Linear(15_000, 10_000)  # 150,010,000 parameters
    report = parameter_rule(large)
    assert report['parameters'] == 150_010_000 and not report['within_limit']
    assert 'EXCEEDED' in format_parameter_rule(report)
    assert parameter_rule(large, limit=200_000_000)['within_limit']
    shared = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.ReLU())
    shared.append(shared[0])
    assert count_parameters(shared) == 12
    wrapper = torch.nn.Module()
    wrapper.module = shared
    assert count_parameters(wrapper) == 12
    assert format_parameter_rule(parameter_rule(shared)) == (
        'inference model: 0.00 M parameters (LID 2020 rule: < 150 M: ok)')
