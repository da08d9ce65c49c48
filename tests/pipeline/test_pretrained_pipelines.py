"""Every method pipeline of the synthetic comparison has a pretrained twin that differs only
in where its backbones start: stage 1 and stage 3 from the shipped pretrained TinyConvNet
(``wsss_toolbox://tiny-convnet_synthetic-pretrain``), nothing else changed."""
import copy
import os.path as osp

import pytest
from conftest import REPO_ROOT

from wsss_toolbox.engine.pretrained import pretrained_files, shipped_checkpoint
from wsss_toolbox.pipeline import PipelineRunner
from wsss_toolbox.pipeline.config import load_pipeline_config
from wsss_toolbox.pipeline.file_digest import InputFiles
from wsss_toolbox.pipeline.train_steps import TrainClassifier, TrainSegmentor

METHODS = ('cam', 'cam_saliency', 'oaa-avg', 'oaa', 'oaa-drop', 'oaa-plus', 'oaa-drop-plus',
           'seenet-cam', 'seenet', 'mcis', 'cam-irn', 'rpnet', 'rpnet-irn')
NAME = 'tiny-convnet_synthetic-pretrain'
PRETRAINED = dict(type='Pretrained', checkpoint='wsss_toolbox://' + NAME)


def pipeline(name: str):
    return load_pipeline_config(osp.join(REPO_ROOT, 'configs', 'pipelines',
                                         f'{name}_synthetic.py'))


def without_initialisation(cfg) -> dict:
    """The pipeline config with the backbone initialisation of its training steps removed."""
    steps = {name: copy.deepcopy(cfg[name]) for name in cfg.steps}
    for step in steps.values():
        if step['type'] in ('TrainClassifier', 'TrainSegmentor'):
            step.pop('init_backbone_from', None)
            options = step.pop('cfg_options', None) or {}
            options.get('model', {}).get('backbone', {}).pop('init_cfg', None)
            if options.get('model', {}).get('backbone') == {}:
                del options['model']['backbone']
            if options.get('model') == {}:
                del options['model']
            if options:
                step['cfg_options'] = options
    return dict(steps=list(cfg.steps), data_root=cfg.data_root, step_dicts=steps)


@pytest.mark.parametrize('method', METHODS)
def test_the_twin_changes_only_the_backbone_initialisation(method, tmp_path):
    scratch, pretrained = pipeline(method), pipeline(f'{method}-pretrained')
    assert without_initialisation(pretrained) == without_initialisation(scratch)
    runner = PipelineRunner(pretrained, str(tmp_path))
    for name in pretrained.steps:
        step = runner.step(name)
        if isinstance(step, (TrainClassifier, TrainSegmentor)):
            # what the step trains: the shipped backbone, not the stage-1 classifier's
            assert step.config_to_train().model.backbone.init_cfg == PRETRAINED, name
            # the checkpoint is an input file: a retrained one (`make pretrain`) retrains
            assert pretrained_files(step.stage_config().model) == [shipped_checkpoint(NAME)]
        elif getattr(step, 'init_backbone_from', None) is not None:
            # IRN's boundary network keeps reading the (pretrained) stage-1 classifier
            assert step.init_backbone_from == scratch[name]['init_backbone_from'], name


def test_local_pretrained_checkpoints_are_input_files(tmp_path):
    weights = tmp_path / 'vgg16.pth'
    weights.write_bytes(b'weights')
    model = dict(type='EncoderDecoder',
                 backbone=dict(init_cfg=[dict(type='Pretrained', checkpoint=str(weights)),
                                         dict(type='Kaiming', layer='Conv2d')]),
                 head=dict(init_cfg=dict(type='Pretrained', checkpoint='torchvision://vgg16')),
                 neck=dict(init_cfg=dict(type='Pretrained', checkpoint=PRETRAINED['checkpoint'])))
    assert pretrained_files(model) == [str(weights), shipped_checkpoint(NAME)]


def test_a_training_step_counts_its_pretrained_checkpoint_among_its_input_files(
        tmp_path, monkeypatch):
    runner = PipelineRunner(pipeline('cam-pretrained'), str(tmp_path))
    monkeypatch.setattr(runner, 'dataset_files', lambda dataset: InputFiles(required=['x.jpg']))
    assert runner.step('stage1').input_files().required == ['x.jpg', shipped_checkpoint(NAME)]
    scratch = PipelineRunner(pipeline('cam'), str(tmp_path / 'scratch'))
    monkeypatch.setattr(scratch, 'dataset_files', lambda dataset: InputFiles(required=['x.jpg']))
    assert scratch.step('stage1').input_files().required == ['x.jpg']
