"""The shipped pretrained backbone: ``wsss_toolbox://`` loads it like ``torchvision://``, and
the shipped classifier gives the accuracy its provenance records on the first val images of
the pretraining set, regenerated here (``configs/pretrain/README.md``)."""
import hashlib
import os.path as osp
import runpy

import pytest
import torch
from conftest import REPO_ROOT

from wsss_toolbox.datasets.synthetic_benchmark import generate_synthetic_benchmark
from wsss_toolbox.engine.config import load_config
from wsss_toolbox.models import SCHEME, shipped_checkpoint, shipped_provenance
from wsss_toolbox.registry import MODELS
from wsss_toolbox.utils import register_all_modules

NAME = 'tiny-convnet_synthetic-pretrain'
CONFIG = osp.join(REPO_ROOT, 'configs', 'pretrain',
                  'cam_tiny_1xb32-12e_synthetic-pretrain-128x128.py')


def test_the_scheme_loads_the_backbone_as_torchvision_weights_load():
    register_all_modules()
    backbone = MODELS.build(dict(type='TinyConvNet', base_channels=32, out_indices=(3, ),
                                 init_cfg=dict(type='Pretrained', checkpoint=SCHEME + NAME)))
    backbone.init_weights()
    shipped = torch.load(shipped_checkpoint(NAME), map_location='cpu',
                         weights_only=False)['state_dict']
    state = backbone.state_dict()
    assert set(state) == {key[len('backbone.'):] for key in shipped
                          if key.startswith('backbone.')}
    for key, value in state.items():
        assert torch.equal(value, shipped['backbone.' + key]), key


def test_unknown_names_are_refused_with_the_known_ones():
    with pytest.raises(KeyError, match=NAME):
        shipped_checkpoint('resnet50')


def test_the_provenance_describes_the_file():
    record = shipped_provenance(NAME)
    path = shipped_checkpoint(NAME)
    with open(path, 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest() == record['sha256']
    assert osp.getsize(path) < 4 * 2**20  # a few MB at most
    assert record['config'] == osp.relpath(CONFIG, REPO_ROOT)
    assert record['data']['generator']['classes_by'] == 'body'
    for key in ('command', 'seed', 'date', 'training_seconds', 'val', 'handful'):
        assert record[key] is not None, key


def test_the_shipped_classifier_gives_its_recorded_accuracy(tmp_path):
    record = shipped_provenance(NAME)
    generator = dict(record['data']['generator'])
    handful = record['handful']['images']
    # the generator draws image i of a split from its own seed: the first `handful` val
    # images come out as in the 600-image set the figures were measured on
    options = {key: value for key, value in generator.items()
               if key not in ('num_train', 'num_val', 'image_size', 'num_classes', 'seed')}
    generate_synthetic_benchmark(str(tmp_path / 'data'), num_train=0, num_val=handful,
                                 image_size=generator['image_size'],
                                 num_classes=generator['num_classes'], seed=generator['seed'],
                                 **options)
    register_all_modules()
    cfg = load_config(CONFIG)
    cfg.test_dataloader.dataset.data_root = str(tmp_path / 'data')
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.persistent_workers = False
    # the function that measured the recorded figures
    evaluate = runpy.run_path(osp.join(REPO_ROOT, 'tools', 'model_converters',
                                       'publish_pretrained.py'))['evaluate']
    metrics = evaluate(cfg, shipped_checkpoint(NAME), None)
    assert metrics == pytest.approx(record['handful']['metrics'], abs=0.01)
    assert record['val']['top1'] > 10 * 100 / 64  # far above chance (1 in 64)
