"""MCIS configs: the authors' VOC settings, the LID track-1 config, the synthetic config, and
the pipeline configs' step lists."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from wsss_toolbox.engine.config import load_config
from wsss_toolbox.utils import register_all_modules

# renamed configs' old paths (``_deprecation_``): tests/configs/test_deprecated_configs.py
CONFIGS = sorted(path for path in glob.glob(osp.join('configs', 'mcis', '*.py'))
                 if '_deprecation_' not in open(path).read())


def test_every_mcis_config_loads_its_method_and_trains_on_pairs():
    assert len(CONFIGS) == 3
    for path in CONFIGS:
        cfg = load_config(path)
        assert 'wsss_toolbox.methods.mcis' in cfg.custom_imports['imports'], path
        assert cfg.model.type == 'MCISClassifier' and cfg.model.head.type == 'MCISHead'
        loader = cfg.train_dataloader
        assert loader.sampler.type == 'ClassPairSampler' and loader.sampler.group_size == 2
        assert loader.dataset.type == 'ImageGroupDataset' and loader.collate_fn.type == \
            'group_collate'
        assert dict(type='MCISTrainingHook') in cfg.custom_hooks


def test_voc_config_has_the_authors_settings():
    cfg = load_config('configs/mcis/mcis_vgg16_1xb5-15e_voc12aug-256x256.py')
    assert cfg.train_dataloader.batch_size == 5  # pairs
    assert cfg.model.self_pairs == ('flip', 0.75, 2.0)
    assert cfg.model.head.shared_classifier is False and cfg.model.head.num_classes == 20
    assert cfg.model.head.contrastive_start_epoch == 2
    # the authors' init, per-side contrastive rule and uint8 resize
    assert cfg.model.head.init_mode == 'kaiming_fan_out' and 'init_std' not in cfg.model.head
    assert cfg.model.head.contrastive_skip_empty == 'own_side_empty'
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.lr, optimizer.weight_decay, optimizer.nesterov) == (1e-3, 5e-4, True)
    assert cfg.param_scheduler[0].milestones == [5, 10] and cfg.train_cfg.max_epochs == 11
    resize, jitter = cfg.train_dataloader.dataset.dataset.pipeline[1:3]
    assert resize.scale == (256, 256) and resize.keep_ratio is False
    # the vendored torchvision 0.2 ColorJitter on the PIL image (LoadData.py L2, L151)
    assert jitter.type == 'ColorJitterBGR' and jitter.backend == 'pil'
    assert cfg.mcis_inference == dict(mode='fusion', num_related=3, related_seed=0,
                                      input_size=(256, 256), fusion_resize='cv2_uint8')
    generator = cfg.pseudo_labels.generator
    assert (generator.conflict_threshold, generator.att_ignore, generator.att_threshold) == (
        0.99, 0.95, 0.3)
    assert abs(generator.sal_ignore * 255 - 32) < 1e-6


def test_lid_config_reads_the_ilsvrc_layout_with_200_classes():
    cfg = load_config('configs/mcis/mcis_vgg16_1xb5-15e_lid20-256x256.py')
    assert cfg.model.head.num_classes == 200
    dataset = cfg.train_dataloader.dataset.dataset
    assert dataset.type == 'LIDImageLabelDataset' and dataset.data_prefix.ann_path == \
        'Annotations/DET/train'
    assert cfg.mcis_inference['mode'] == 'single_round'
    assert cfg.model.head.init_mode == 'kaiming_fan_out'
    assert [step.get('backend') for step in dataset.pipeline
            if step.type == 'ColorJitterBGR'] == ['pil']


def test_synthetic_config_has_the_authors_head_rules():
    cfg = load_config('configs/mcis/mcis_tiny_1xb8-4e_synthetic-128x128.py')
    assert cfg.model.head.init_mode == 'kaiming_fan_out' and 'init_std' not in cfg.model.head
    assert cfg.model.head.contrastive_skip_empty == 'own_side_empty'
    assert cfg.mcis_inference.fusion_resize == 'cv2_uint8'


@pytest.mark.parametrize('name', ['mcis_synthetic', 'mcis-single_synthetic', 'mcis_voc12',
                                  'mcis-ablation_synthetic'])
def test_pipeline_configs(name):
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(osp.join('configs', 'pipelines', f'{name}.py'))
    assert cfg.maps.type == 'MCISInferMaps'
    assert cfg.pseudo_labels.generator.conflict_threshold == 0.99
    expected = 'single_round' if 'single' in name else 'fusion'
    assert cfg.maps.mode == expected
    assert all(step in cfg for step in cfg.steps)
