"""Steps keep their options as attributes and declare which decide their result; their
fingerprints are those of the steps that packed their options into ``self.options``; steps
written that way still run; summary rows are ``SummaryRow`` records (dicts still accepted)."""
import json
import os.path as osp
import warnings

import pytest
from mmengine.config import Config

from wsss_toolbox.pipeline import PipelineRunner, PipelineStep, SummaryRow, format_table
from wsss_toolbox.pipeline.fingerprint import canonical, fingerprint
from wsss_toolbox.registry import PIPELINE_STEPS
from wsss_toolbox.utils import register_all_modules

CLASSIFIER = """model = dict(type='ImageClassifier', backbone=dict(type='ResNet', depth=18))
train_dataloader = dict(batch_size=2, dataset=dict(type='SyntheticImageLabelDataset',
                        data_root='x', pipeline=[dict(type='LoadImageFromFile')]))
val_dataloader = dict(dataset=dict(type='SyntheticImageLabelDataset', data_root='x'))
map_inference = dict(scales=(1.0, 0.75), fusion='mean')
mcis_inference = dict(mode='fusion', input_size=(64, 64))
custom_hooks = [dict(type='CumulativeMapRecorderHook', export=dict(dir='export', raw_dir='raw'))]
"""
SEGMENTOR = """model = dict(type='EncoderDecoder', backbone=dict(type='ResNet', depth=18))
train_dataloader = dict(dataset=dict(type='SyntheticSegDataset', data_root='x'))
test_dataloader = dict(dataset=dict(type='SyntheticSegDataset', data_root='x'))
test_split = dict(type='SyntheticSegDataset', data_root='x')
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01))
"""
AFFINITY = """model = dict(type='AffinityNet', backbone=dict(type='ResNet', depth=18))
train_dataloader = dict(dataset=dict(type='SyntheticImageLabelDataset', data_root='x',
                        pipeline=[dict(type='LoadSeedLabels'), dict(type='Pack')]))
"""

# step -> (fingerprint of fingerprint_config(), fingerprint of the config the runner records:
# the step's plus data_root), recorded with the steps that packed their options into
# ``self.options`` (v0.1): a change here reruns users' finished work dirs
RECORDED = dict(
    stage1=('35777ee351a17b83', 'f9a8d968d7e65b3c'),
    maps=('686dfdf2f09b6c52', '296ab9115f2de79e'),
    eval_maps=('c9ae818f72ce5a80', 'ad4edc7df0228b8f'),
    labels=('994f91eb3a86c8bf', '7f25670fedb6b1b7'),
    crf=('c617af3852836e3c', 'fbd5cd3eca68716b'),
    stage3=('783e918931db875a', '8eb8372d89d3813d'),
    test=('e410bbd8b5333472', '366188596a4aa73e'),
    peak=('bcf3069e65da14f2', '690ca92b71a511dd'),
    test_lid=('b5a83ea960502e34', '27802ce0f66ddac1'),
    results=('177a2290d640e49e', '6609b39984d7a139'),
    seeds=('76aab231af4c04f6', '337a975855e9a36f'),
    irn_train=('c70efd7f782b9e00', 'ded2c6b2e9768d90'),
    walk=('d7e5c846bd9adfd5', 'f644aa423d8dd160'),
    mcis=('38185a81f51a7ab8', 'd7b0b3273718443e'),
    oaa_maps=('9a10a2dfdb46c356', 'f84b2e24a5b981a5'),
    summary=('4778d22a70039205', '643be36daf191383'),
)


def tiny_runner(folder: str) -> PipelineRunner:
    """Every core and method step, built (not run) from a fixed pipeline config."""
    register_all_modules()
    for name, text in (('cls.py', CLASSIFIER), ('seg.py', SEGMENTOR), ('aff.py', AFFINITY)):
        with open(osp.join(folder, name), 'w') as f:
            f.write(text)
    cfg = Config(dict(
        data_root='data/tiny',
        steps=list(RECORDED),
        stage1=dict(type='TrainClassifier', config=osp.join(folder, 'cls.py'),
                    cfg_options={'optim_wrapper.optimizer.lr': 0.1}),
        maps=dict(type='InferMaps', classifier='stage1', split='val', scales=(1.0, 0.5),
                  amp=True, map_dtype='uint8', stride=4),
        eval_maps=dict(type='EvaluateMaps', maps='maps', thresholds=[0.1, 0.2], ratio=0.4,
                       nproc=2),
        labels=dict(type='MakePseudoLabels', maps='maps',
                    generator=dict(type='ThresholdLabelGenerator', bg_threshold=0.3),
                    refiners=[dict(type='DenseCRFRefiner')], evaluate=False),
        crf=dict(type='RefineLabels', labels='labels',
                 refiners=[dict(type='DenseCRFRefiner', iterations=3)]),
        stage3=dict(type='TrainSegmentor', config=osp.join(folder, 'seg.py'), labels='crf',
                    init_backbone_from='stage1'),
        test=dict(type='TestSegmentor', segmentor='stage3', cfg_options={'a': 1}),
        peak=dict(type='EvaluatePeakIoU', maps='maps', reference='percentile',
                  percentile=80.0, nproc=3),
        test_lid=dict(type='TestSegmentorLID', segmentor='stage3'),
        results=dict(type='WriteSegmentationResults', segmentor='stage3'),
        seeds=dict(type='IRNSeeds', maps='maps', generator=dict(fg_threshold=0.3)),
        irn_train=dict(type='TrainAffinityNet', config=osp.join(folder, 'aff.py'),
                       seeds='seeds', init_backbone_from='stage1'),
        walk=dict(type='RandomWalkLabels', affinity='irn_train', maps='maps', beta=8.0,
                  device='cpu', nproc=2),
        mcis=dict(type='MCISInferMaps', classifier='stage1', mode='single_round',
                  num_related=2),
        oaa_maps=dict(type='CumulativeMaps', classifier='stage1', source='export_raw_dir'),
        summary=dict(type='Summarize', figure=dict(maps='maps', labels=['labels'],
                                                   num_images=2), inference_model='stage3'),
    ))
    return PipelineRunner(cfg, osp.join(folder, 'work'))


def test_fingerprints_are_those_of_the_packed_options(tmp_path):
    runner = tiny_runner(str(tmp_path))
    found = {}
    for name in runner.names:
        step = runner.step(name)
        found[name] = (fingerprint(step.fingerprint_config())[:16],
                       fingerprint(runner._identity(step)['config'])[:16])
    assert found == RECORDED
    assert runner.step('stage3').inputs() == ['crf', 'stage1']
    assert runner.step('walk').inputs() == ['irn_train', 'maps']


def test_options_are_attributes_and_readable_by_name(tmp_path):
    runner = tiny_runner(str(tmp_path))
    maps = runner.step('maps')
    assert (maps.split, maps.scales, maps.amp, maps.fusion) == ('val', (1.0, 0.5), True, None)
    # the option ``classifier`` is kept apart from the method that gives the step
    assert maps.classifier_name == 'stage1' and maps.classifier() is runner.step('stage1')
    assert maps.options['classifier'] == 'stage1' and maps.options['split'] == 'val'
    assert set(maps.options) == set(maps.inference_args) | {'classifier', 'split'}
    assert canonical(maps.fingerprint_config())['split'] == 'val'
    walk = runner.step('walk')
    assert walk.fingerprint_options == ('affinity', 'maps') + walk.walk_options + (
        'evaluate', )
    assert 'device' not in walk.fingerprint_config() and walk.nproc == 2
    walk.options['device'] = 'cuda'  # tools set options by name (benchmark_irn.py)
    assert walk.device == 'cuda'
    assert runner.step('crf').refiners == [dict(type='DenseCRFRefiner', iterations=3)]
    assert runner.step('summary').steps == runner.names[:-1]


@PIPELINE_STEPS.register_module(force=True)
class _PackedOptions(PipelineStep):
    """A plugin step of the earlier interface: options passed to ``PipelineStep.__init__``,
    read back from ``self.options``."""
    input_args = ('source', )
    writes_folder = False

    def __init__(self, name, runner, source=None, power=2):
        super().__init__(name, runner, source=source, power=power)
        self.options.update(extra=self.options['power'] + 1)

    def fingerprint_config(self):
        return self.options  # the default of earlier versions

    def run(self):
        return dict(value=self.options['power'] * self.options['extra'])

    def summary_rows(self, result):
        return [dict(kind='old', step=self.name, name='old row', mIoU=None,
                     value=result['value'], note='kept')]


@PIPELINE_STEPS.register_module(force=True)
class _DeclaredOptions(PipelineStep):
    input_args = ('source', )
    fingerprint_options = ('source', 'power')
    writes_folder = False

    def __init__(self, name, runner, source=None, power=2, nproc=1):
        super().__init__(name, runner)
        self.source, self.power, self.nproc = source, power, nproc

    def run(self):
        return dict(value=self.power)

    def summary_rows(self, result):
        return [SummaryRow(name='new row', kind='new', step=self.name, mIoU=12.5,
                           extra=dict(ignored=3.0))]


def _run(tmp_path, steps):
    cfg = Config(dict(steps=list(steps), **steps))
    runner = PipelineRunner(cfg, str(tmp_path / 'work'))
    runner.run()
    return runner


def test_steps_that_pass_their_options_still_work_with_a_warning(tmp_path):
    with pytest.warns(DeprecationWarning, match='declare `fingerprint_options`'):
        runner = _run(tmp_path, dict(
            new=dict(type='_DeclaredOptions', power=3),
            old=dict(type='_PackedOptions', source='new', power=5)))
    old = runner.step('old')
    assert (old.source, old.power, old.extra) == ('new', 5, 6)
    assert dict(old.options) == dict(source='new', power=5, extra=6)
    # every option passed decides the result, as before
    assert canonical(old.fingerprint_config()) == dict(source='new', power=5, extra=6)
    assert runner._identity(old)['config']['step'] == dict(source='new', power=5, extra=6)
    assert old.inputs() == ['new'] and runner.result('old') == dict(value=30)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # a step that declares its options is not warned
        new = runner.step('new')
        assert new.fingerprint_config() == dict(source=None, power=3)
        assert dict(new.options) == dict(source=None, power=3, nproc=1)
        type(new)('again', runner, power=1)


def test_an_option_may_not_hide_a_method():
    with pytest.raises(TypeError, match='option `run` would hide its method'):
        with pytest.warns(DeprecationWarning):
            PipelineStep('plugin', None, run=1)


def test_summary_rows_and_plain_dicts_are_written_alike(tmp_path):
    with pytest.warns(DeprecationWarning):
        runner = _run(tmp_path, dict(
            new=dict(type='_DeclaredOptions'),
            old=dict(type='_PackedOptions', power=1),
            summary=dict(type='Summarize')))
    with open(runner.path('summary.json')) as f:
        rows = json.load(f)['rows']
    assert rows == [
        dict(name='new row', kind='new', step='new', mIoU=12.5, value=None, ignored=3.0),
        dict(name='old row', kind='old', step='old', mIoU=None, value=2, note='kept')]
    assert runner.result('summary')['rows'] == rows
    row = runner.step('new').summary_rows({})[0]
    assert row['ignored'] == 3.0 and row.get('labels') is None  # read like the dicts were
    assert format_table([row]) == format_table([row.to_dict()])
    assert '12.50' in format_table([row]) and '3.00 ignored' in format_table([row])


def test_a_row_without_a_name_is_named_with_its_step(tmp_path, monkeypatch):
    monkeypatch.setattr(_DeclaredOptions, 'summary_rows', lambda self, result: [dict(mIoU=1)])
    with pytest.raises(TypeError, match='step "new": summary_rows'):
        _run(tmp_path, dict(new=dict(type='_DeclaredOptions'),
                            summary=dict(type='Summarize')))


def test_every_name_of_the_steps_module_still_imports():
    from wsss_toolbox.pipeline import steps
    names = ('TrainStep TrainClassifier TrainSegmentor TestSegmentor InferMaps EvaluateMaps '
             'LabelFolderStep MakePseudoLabels RefineLabels Summarize PipelineStep InputFiles '
             'format_table format_warnings folder_ignored_fraction label_image_inputs '
             'latest_checkpoint_in load_model_checkpoint map_step mask_files '
             'missing_image_files write_json _percent').split()
    assert [name for name in names if not hasattr(steps, name)] == []
    assert PIPELINE_STEPS.get('InferMaps') is steps.InferMaps
