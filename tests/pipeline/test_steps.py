"""Pipeline steps without running them: options, inputs, summary rows."""
import os.path as osp

import pytest
from conftest import REPO_ROOT

from wsss_toolbox.pipeline import (
    PipelineConfigError,
    PipelineRunner,
    format_table,
    load_pipeline_config,
)
from wsss_toolbox.utils import register_all_modules

CONFIG = osp.join(REPO_ROOT, 'configs', 'pipelines', 'cam_synthetic.py')


@pytest.fixture
def runner(tmp_path):
    register_all_modules()
    return PipelineRunner(load_pipeline_config(CONFIG), str(tmp_path))


def test_summary_survives_missing_values(runner):
    """A NaN precision is stored as null in JSON; the summary must still format (it crashed
    with `int * NoneType` before)."""
    result = dict(threshold_sweep=dict(best_threshold=0.25, best_metrics=dict(mIoU=0.3)),
                  precision_recall=dict(recall=0.5, precision=None))
    rows = runner.step('eval_maps').summary_rows(result)
    assert rows[2]['value'] is None and rows[1]['value'] == 50.0
    table = format_table(rows + [dict(name='labels', mIoU=None, ignored=None, value=None)])
    assert 'maps precision @50% max' in table


def test_inputs_and_fingerprint_options(runner):
    assert runner.step('pseudo_labels_crf').inputs() == ['pseudo_labels']
    assert runner.step('stage3').inputs() == ['pseudo_labels_crf', 'stage1']
    # a refine step's fingerprint holds the whole recipe: the upstream generator too
    recipe = runner.step('pseudo_labels_crf').fingerprint_config()
    assert recipe['generator']['type'] == 'ThresholdLabelGenerator'
    assert [r['type'] for r in recipe['chain']] == ['DenseCRFRefiner']
    # map inference options fall back to the classifier config's map_inference
    options = runner.step('maps').inference_options()
    assert options['scales'] == (1.0, 0.75, 1.5) and options['fusion'] == 'mean'
    assert 'amp' not in options  # an unset option leaves the fingerprint as it was


def test_mixed_precision_is_a_map_step_option(tmp_path):
    register_all_modules()
    cfg = load_pipeline_config(CONFIG, {'maps.amp': True, 'maps.channels_last': True})
    step = PipelineRunner(cfg, str(tmp_path)).step('maps')
    options = step.inference_options()
    assert options['amp'] is True and options['channels_last'] is True
    assert step.fingerprint_config()['amp'] is True  # other maps: computed again


def test_step_options_are_checked(tmp_path):
    register_all_modules()
    cfg = load_pipeline_config(CONFIG, {'maps.split': 'test'})
    with pytest.raises(ValueError, match="split must be 'train' or 'val'"):
        PipelineRunner(cfg, str(tmp_path))
    cfg = load_pipeline_config(CONFIG, {'stage3.labels': 'maps_typo'})
    with pytest.raises(PipelineConfigError, match='maps_typo'):
        PipelineRunner(cfg, str(tmp_path))


def test_data_root_reaches_the_datasets_inside_wrappers(tmp_path):
    """The pipeline's data_root is set on the datasets that read files, through wrappers such
    as ImageGroupDataset (cross-image methods) and ConcatDataset."""
    register_all_modules()
    stage = tmp_path / 'wrapped.py'
    stage.write_text(
        "inner = dict(type='SyntheticImageLabelDataset', data_root='elsewhere')\n"
        "train_dataloader = dict(dataset=dict(type='ImageGroupDataset', dataset=inner))\n"
        "val_dataloader = dict(dataset=dict(type='ConcatDataset', datasets=[inner, inner]))\n"
        "test_dataloader = dict(dataset=inner)\n")
    runner = PipelineRunner(load_pipeline_config(CONFIG, {'data_root': 'data/here'}),
                            str(tmp_path / 'work'))
    cfg = runner.stage_config(str(stage), None, 'stage1')
    assert cfg.train_dataloader.dataset.dataset.data_root == 'data/here'
    assert 'data_root' not in cfg.train_dataloader.dataset
    assert [d.data_root for d in cfg.val_dataloader.dataset.datasets] == ['data/here'] * 2
    assert cfg.test_dataloader.dataset.data_root == 'data/here'
