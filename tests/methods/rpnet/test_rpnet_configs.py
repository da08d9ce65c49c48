"""Every RPNet stage-1 config builds and trains one step on a pair (the VOC/COCO ResNeXt-50
with random weights), its training augmentation runs, and the pipeline configs load."""
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.registry import init_default_scope

from wsss_toolbox.pipeline import load_pipeline_config
from wsss_toolbox.registry import MODELS, TRANSFORMS
from wsss_toolbox.structures import WSSSDataSample
from wsss_toolbox.utils import register_all_modules

CONFIGS = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', 'rpnet', '*.py')))
PIPELINES = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', 'pipelines', 'rpnet*.py')))


@pytest.fixture(autouse=True)
def scope():
    register_all_modules(init_default_scope=False)
    init_default_scope('wsss_toolbox')
    torch.set_num_threads(1)


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_rpnet_config_builds_and_trains_one_step_on_a_pair(path):
    import wsss_toolbox.methods.rpnet  # noqa: F401
    cfg = Config.fromfile(path)
    assert cfg.custom_imports['imports'] == ['wsss_toolbox.methods.rpnet']
    assert cfg.model.type == 'RPNetClassifier' and cfg.model.head.type == 'RPNetHead'
    views = dict(scales=(1.0, 0.5, 1.5, 2.0), flip=True, fusion='mean')
    # VOC / COCO: the code's make_cam arithmetic (test_rpnet_inference_bn.py)
    assert cfg.map_inference == (views if 'synthetic' in path else dict(
        views, aggregation='feature_grid'))
    loader = cfg.train_dataloader
    assert loader.sampler.type == 'ClassPairSampler'
    assert loader.sampler.group_size == loader.dataset.group_size == 2
    assert loader.collate_fn == dict(type='group_collate')
    num_classes = cfg.model.head.num_classes
    assert num_classes == {'synthetic': 8, 'voc12aug': 20, 'coco2014': 80}[
        osp.basename(path).split('_')[-1].split('-')[0]]
    if 'coco' in path:  # the VOC model with 80 classes (checked below); skip the slow step
        return
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    samples = []
    for index in range(4):  # two pairs
        sample = WSSSDataSample(metainfo=dict(img_shape=(32, 32), img_id=f'x{index}',
                                              group_size=2, group_position=index % 2))
        sample.gt_label = torch.zeros(num_classes)
        sample.gt_label[index // 2] = 1
        samples.append(sample)
    data = dict(inputs=[torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8)] * 4,
                data_samples=samples)
    model.train()
    losses = model(**model.data_preprocessor(data, True), mode='loss')
    assert set(losses) == {'loss_cls', 'loss_similarity', 'confident_coverage'}
    assert len(model.train_outputs['cams']) == 4
    (losses['loss_cls'] + losses['loss_similarity']).backward()
    assert model.head.projection.weight.grad is not None
    model.eval()
    with torch.no_grad():
        predicted = model(**model.data_preprocessor(data, False), mode='predict')
    assert predicted[0].pred_maps.shape == (num_classes, 32, 32)


@pytest.mark.parametrize('name', ['voc12aug', 'coco2014'])
def test_authors_backbone_and_recipe(name):
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'rpnet',
                                   f'rpnet_x50_1xb8-5e_{name}-512x512.py'))
    backbone = cfg.model.backbone
    assert (backbone.arch, backbone.output_stride, backbone.dilate, backbone.out_indices,
            backbone.frozen_stages, backbone.norm_eval) == (
                'resnext50_32x4d', 16, False, (1, 3), 2, True)
    assert cfg.model.head.enhance_scales == (1.0, 0.5, 1.5, 2.0)
    assert cfg.model.head.num_classes == (20 if name == 'voc12aug' else 80)
    assert cfg.train_dataloader.dataset.dataset.type == (
        'VOCImageLabelDataset' if name == 'voc12aug' else 'COCOImageLabelDataset')
    assert cfg.train_dataloader.batch_size == 8 and cfg.max_epochs == 5
    assert cfg.optim_wrapper.optimizer.lr == 0.02
    assert cfg.param_scheduler[0].type == 'PolyLR'
    # the augmentation: long side in [320, 640], flip, crops of at most 512 x 512
    pipeline = [TRANSFORMS.build(t) for t in cfg.train_dataloader.dataset.dataset.pipeline[1:4]]
    results = dict(img=np.zeros((500, 375, 3), np.uint8), img_shape=(500, 375),
                   ori_shape=(500, 375))
    for transform in pipeline:
        results = transform(results)
    height, width = results['img'].shape[:2]
    assert height <= 512 and width <= 512 and max(height, width) >= 320 * 375 / 500 - 1


@pytest.mark.parametrize('path', PIPELINES, ids=osp.basename)
def test_rpnet_pipeline_configs_load(path):
    cfg = load_pipeline_config(path)
    assert cfg.custom_imports['imports'][0] == 'wsss_toolbox.methods.rpnet'
    stage1 = osp.normpath(osp.join(osp.dirname(path), cfg.stage1['config']))
    assert osp.isfile(stage1) and 'rpnet' in stage1
    assert cfg.maps['scales'] == (1.0, 0.5, 1.5, 2.0)
