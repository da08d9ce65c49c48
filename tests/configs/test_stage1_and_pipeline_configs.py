"""Every stage-1 and pipeline config loads; the VOC ones build and pass a dry forward."""
import glob
import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.registry import init_default_scope

from wsss_toolbox.pipeline import PipelineRunner, TrainStep, load_pipeline_config
from wsss_toolbox.registry import MODELS
from wsss_toolbox.structures import WSSSDataSample
from wsss_toolbox.utils import register_all_modules

STAGE1_CONFIGS = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', 'cam', '*.py')))
PIPELINES = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', 'pipelines', '*.py')))


@pytest.fixture(autouse=True)
def scope():
    register_all_modules(init_default_scope=False)
    init_default_scope('wsss_toolbox')
    torch.set_num_threads(1)


GEOMETRIC = ('Resize', 'RandomResize', 'RandomCrop', 'RecordedRandomCrop', 'RandomFlip',
             'ResizeShortSide')


def dataset_pipelines(node):
    """Every ``pipeline`` list of a config, wherever it sits (datasets, wrapped datasets)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == 'pipeline' and isinstance(value, list):
                yield value
            else:
                yield from dataset_pipelines(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from dataset_pipelines(value)


STAGE_CONFIGS = sorted(path for path in glob.glob(osp.join(REPO_ROOT, 'configs', '*', '*.py'))
                       if osp.basename(osp.dirname(path)) != 'pipelines')


@pytest.mark.parametrize('path', STAGE_CONFIGS,
                         ids=lambda path: osp.relpath(path, osp.join(REPO_ROOT, 'configs')))
def test_masks_are_loaded_before_any_geometric_transform(path):
    """LoadWSSSAnnotations refuses an image that was already resized (the mask would no longer
    match it): every stage config loads the masks first, so mmcv's transforms move them along
    (pipeline configs name stage configs, checked here as those)."""
    cfg = Config.fromfile(path)
    for pipeline in dataset_pipelines(cfg.to_dict()):
        types = [step.get('type') for step in pipeline if isinstance(step, dict)]
        if 'LoadWSSSAnnotations' in types:
            before = types[:types.index('LoadWSSSAnnotations')]
            assert not set(before) & set(GEOMETRIC), (path, types)


@pytest.mark.parametrize('path', STAGE1_CONFIGS, ids=osp.basename)
def test_stage1_config_builds_and_runs_a_dry_forward(path):
    cfg = Config.fromfile(path)
    model = MODELS.build(cfg.model)
    num_classes = cfg.model.head.num_classes
    samples = [WSSSDataSample(metainfo=dict(img_shape=(40, 40))) for _ in range(2)]
    for sample in samples:
        sample.gt_label = torch.zeros(num_classes)
        sample.gt_label[0] = 1
    data = dict(inputs=[torch.randint(0, 255, (3, 40, 40), dtype=torch.uint8)] * 2,
                data_samples=samples)
    data = model.data_preprocessor(data, True)
    losses = model(**data, mode='loss')
    assert torch.isfinite(sum(losses.values()))
    model.eval()
    with torch.no_grad():
        results = model(**model.data_preprocessor(dict(
            inputs=[torch.randint(0, 255, (3, 40, 40), dtype=torch.uint8)],
            data_samples=[WSSSDataSample(metainfo=dict(img_shape=(40, 40)))]), False),
            mode='predict')
    assert results[0].pred_maps.shape == (num_classes, 40, 40)
    assert 'map_inference' in cfg


@pytest.mark.parametrize('path', PIPELINES, ids=osp.basename)
def test_pipeline_config_steps_build_and_name_loadable_stage_configs(path, tmp_path):
    cfg = load_pipeline_config(path)
    runner = PipelineRunner(cfg, str(tmp_path))  # every listed step builds
    trained = [runner.step(name) for name in cfg.steps
               if isinstance(runner.step(name), TrainStep)]
    assert trained
    for step in trained:
        stage_cfg = step.stage_config()
        assert 'model' in stage_cfg and 'train_dataloader' in stage_cfg
        assert stage_cfg.work_dir == str(tmp_path / step.name)
        step.fingerprint_config()  # the resolved config can be fingerprinted


def test_generic_config_reads_the_generic_layout(tmp_path):
    """configs/cam/cam_vgg16_1xb16-15e_generic-256x256.py on a tiny folder of the layout
    docs/getting_started.md describes: images/, classes.txt, train.txt, val.txt, masks/."""
    import mmcv
    import numpy as np

    from wsss_toolbox.registry import DATASETS
    root = tmp_path / 'my_dataset'
    (root / 'images').mkdir(parents=True)
    (root / 'masks').mkdir()
    (root / 'classes.txt').write_text('cat\ndog\n')
    (root / 'train.txt').write_text('a cat\nb dog cat\n')
    (root / 'val.txt').write_text('c dog\n')
    for name in 'abc':
        mmcv.imwrite(np.full((40, 50, 3), 90, np.uint8), str(root / 'images' / f'{name}.jpg'))
    mmcv.imwrite(np.zeros((40, 50), np.uint8), str(root / 'masks' / 'c.png'))
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'cam',
                                   'cam_vgg16_1xb16-15e_generic-256x256.py'))
    train = dict(cfg.train_dataloader.dataset, data_root=str(root))
    val = dict(cfg.val_dataloader.dataset, data_root=str(root))
    train_set, val_set = DATASETS.build(train), DATASETS.build(val)
    assert train_set.metainfo['classes'] == ('cat', 'dog') and len(train_set) == 2
    assert train_set[1]['data_samples'].gt_label.tolist() == [1.0, 1.0]
    assert val_set.get_data_info(0)['seg_map_path'].endswith('masks/c.png')
