"""Every OAA stage-1 config builds its model and hooks and passes a training forward; the
pipeline configs name loadable stage configs."""
import glob
import os.path as osp
import subprocess
import sys

import pytest
import torch
from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from wsss_toolbox.pipeline import load_pipeline_config
from wsss_toolbox.registry import HOOKS, MODELS, TRANSFORMS
from wsss_toolbox.structures import WSSSDataSample
from wsss_toolbox.utils import register_all_modules

CONFIGS = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', 'oaa', '*.py')))
PIPELINES = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', 'pipelines', 'oaa*.py'))) + [
    osp.join(REPO_ROOT, 'configs', 'pipelines', 'cam_saliency_synthetic.py')]


@pytest.fixture(autouse=True)
def scope():
    register_all_modules(init_default_scope=False)
    init_default_scope('wsss_toolbox')
    torch.set_num_threads(1)


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_oaa_config_builds_and_trains_one_forward(path):
    cfg = Config.fromfile(path)
    pipeline = cfg.train_dataloader.dataset.pipeline
    geometric = {'RandomFlip', 'RandomCrop', 'RecordedRandomCrop', 'RandomResize'}
    assert not geometric & {step['type'] for step in pipeline}  # OAA: fixed geometry
    for step in pipeline:
        TRANSFORMS.get(step['type'])  # registered
    hooks = [HOOKS.build(dict(hook)) for hook in cfg.get('custom_hooks', [])]
    is_iam = cfg.model.head.type == 'IntegralAttentionHead'
    assert bool(hooks) != is_iam  # OAA runs record maps; the integral model trains on them
    if hooks:  # where OAA's CumulativeMaps pipeline step looks for the exported maps
        assert hooks[0].export_dir == 'cumulative_maps'
    model = MODELS.build(cfg.model)
    num_classes = cfg.model.head.num_classes
    # authors' targets are the stored maps at feature resolution (40 / stride 8)
    soft_size = 5 if cfg.model.head.get('label_resize_mode') == 'none' else 40
    samples = []
    for _ in range(2):
        sample = WSSSDataSample(metainfo=dict(img_shape=(40, 40), img_id='x'))
        sample.gt_label = torch.zeros(num_classes)
        sample.gt_label[0] = 1
        sample.gt_soft_maps = PixelData(data=torch.rand(num_classes, soft_size, soft_size))
        samples.append(sample)
    data = dict(inputs=[torch.randint(0, 255, (3, 40, 40), dtype=torch.uint8)] * 2,
                data_samples=samples)
    losses = model(**model.data_preprocessor(data, True), mode='loss')
    assert torch.isfinite(sum(losses.values()))
    assert ('loss_hybrid' in losses) == is_iam


def load_stage_config(path: str, cfg_options=None) -> Config:
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(dict(cfg_options))
    return cfg


@pytest.mark.parametrize('path', PIPELINES, ids=osp.basename)
def test_pipeline_configs(path):
    cfg = load_pipeline_config(path)  # step config paths resolved, steps registered
    assert cfg.pseudo_labels.generator.type == 'SaliencyLabelGenerator'
    for stage in ('stage0', 'stage1', 'stage3'):
        if stage not in cfg:
            continue
        stage_cfg = load_stage_config(cfg[stage]['config'], cfg[stage].get('cfg_options'))
        assert 'model' in stage_cfg
    if 'stage0' in cfg:  # the integral attention model reads stage 0's exported maps
        stage0 = load_stage_config(cfg.stage0.config)
        assert [hook.type for hook in stage0.custom_hooks][0] == 'CumulativeMapRecorderHook'
        map_keys = list(cfg.stage1.input_dirs)
        map_step = cfg[cfg.stage1.input_dirs[map_keys[0]]]
        assert len(map_keys) == 1 and map_step.type == 'CumulativeMaps'
        stage1 = load_stage_config(cfg.stage1.config, {map_keys[0]: '/somewhere'})
        # the paper reading learns from the exported maps, the authors' code from the
        # stored uint8 maps at feature resolution
        source = map_step.get('source', 'export_dir')
        loader = dict(export_dir='LoadCumulativeMaps',
                      export_raw_dir='LoadStoredCumulativeMaps')[source]
        assert stage1.train_dataloader.dataset.pipeline[1] == dict(
            type=loader, map_dir='/somewhere')
        assert (stage1.model.head.label_resize_mode == 'none') == (loader != 'LoadCumulativeMaps')
        recorder = stage0.custom_hooks[0]
        assert recorder.get(source, 'cumulative_maps')  # the folder the step copies exists


def test_cumulative_maps_step_copies_the_folder_its_source_names(tmp_path):
    """OAA+ with the authors' settings takes the recorder's export_raw_dir (stored maps);
    the default and the paper reading take export_dir; other values are refused."""
    from wsss_toolbox.pipeline import PipelineRunner
    path = osp.join(REPO_ROOT, 'configs', 'pipelines', 'oaa-plus-authors_synthetic.py')
    runner = PipelineRunner(load_pipeline_config(path), str(tmp_path))
    stage0_dir = runner.step('stage0').stage_config().work_dir
    assert runner.step('stage0_maps').export_dir() == osp.join(stage0_dir, 'cumulative_maps_raw')
    path = osp.join(REPO_ROOT, 'configs', 'pipelines', 'oaa-plus_synthetic.py')
    runner = PipelineRunner(load_pipeline_config(path), str(tmp_path))
    stage0_dir = runner.step('stage0').stage_config().work_dir
    assert runner.step('stage0_maps').export_dir() == osp.join(stage0_dir, 'cumulative_maps')
    with pytest.raises(ValueError, match="source must be one of"):
        PipelineRunner(load_pipeline_config(path, {'stage0_maps.source': 'raw'}), str(tmp_path))
    # a recorder without the raw export: the error names the step, the config and the key
    cfg = load_pipeline_config(path, {'stage0_maps.source': 'export_raw_dir'})
    with pytest.raises(ValueError, match='no `export_raw_dir`'):
        PipelineRunner(cfg, str(tmp_path)).step('stage0_maps').export_dir()


def test_oaa_configs_work_as_a_plugin_through_custom_imports():
    """A fresh interpreter with the core only (no register_all_modules): reading an OAA
    config imports wsss_toolbox.methods.oaa (custom_imports), and every component builds."""
    code = '''
import sys
from mmengine.config import Config
from mmengine.registry import init_default_scope
import wsss_toolbox.datasets, wsss_toolbox.engine, wsss_toolbox.models
from wsss_toolbox.registry import HOOKS, MODELS, SCOPE, TRANSFORMS
assert 'wsss_toolbox.methods.oaa' not in sys.modules
init_default_scope(SCOPE)
for path in sys.argv[1:]:
    cfg = Config.fromfile(path)
    assert 'wsss_toolbox.methods.oaa' in sys.modules, path
    for hook in cfg.get('custom_hooks', []):
        HOOKS.build(dict(hook))
    for step in cfg.train_dataloader.dataset.pipeline:
        TRANSFORMS.get(step['type'])
    MODELS.build(cfg.model)
'''
    subprocess.run([sys.executable, '-c', code, *CONFIGS], cwd=REPO_ROOT, check=True,
                   timeout=600)
