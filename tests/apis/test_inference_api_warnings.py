"""inference_maps warns when the model predicts no class or gives all-zero maps (a classifier
with zeroed weights: the tiny CAM model with its classifier weights and bias set to zero)."""
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT
from evaluation.log_capture import logged_warnings

from wsss_toolbox.apis import inference_maps, init_classifier
from wsss_toolbox.apis.inference import SCORE_THRESHOLD

CONFIG = osp.join(REPO_ROOT, 'configs', 'cam', 'cam_tiny_1xb16-8e_synthetic-128x128.py')


@pytest.fixture(scope='module')
def zeroed_model():
    model = init_classifier(CONFIG, device='cpu')
    with torch.no_grad():
        model.head.branch.classifier.weight.zero_()
        model.head.branch.classifier.bias.zero_()
    return model


def image():
    rgb = np.random.default_rng(0).integers(0, 255, (24, 28, 3), dtype=np.uint8)
    rgb[6:18, 8:20] = (220, 40, 30)
    return rgb


def test_no_predicted_class_is_warned_about(zeroed_model):
    with logged_warnings() as logged:
        result = inference_maps(zeroed_model, image(), flip=False)
    assert len(result['classes']) == 0 and np.allclose(result['scores'], 0.5)
    assert len(logged) == 1
    assert f'predicts no class above the score threshold {SCORE_THRESHOLD}' in logged[0]
    assert 'checkpoint' in logged[0] and 'classes=' in logged[0]


def test_all_zero_maps_of_given_classes_are_warned_about(zeroed_model):
    with logged_warnings() as logged:
        result = inference_maps(zeroed_model, image(), flip=False, classes=[1, 3])
    assert result['classes'].tolist() == [1, 3] and not result['maps'].any()
    assert len(logged) == 1 and 'the maps of classes [1, 3] are all zero' in logged[0]


def test_a_model_that_predicts_says_nothing():
    model = init_classifier(CONFIG, device='cpu')
    with torch.no_grad():
        model.head.branch.classifier.weight.zero_()
        model.head.branch.classifier.bias.fill_(-5.0)
        model.head.branch.classifier.bias[2] = 5.0  # class 2 everywhere, positive maps
    with logged_warnings() as logged:
        result = inference_maps(model, image(), flip=False)
    assert result['classes'].tolist() == [2] and result['maps'].max() == pytest.approx(1.0)
    assert logged == []
