"""tools/pipeline.py end to end on a tiny synthetic benchmark: outputs, fingerprint-keyed
reruns, resume, --list/--force/--until, a plugin step, config errors and the work-dir lock."""
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import textwrap

import pytest
from conftest import PYTHON, REPO_ROOT
from shared_pipelines import CAM_DEMO_ARGS, copy_run
from tiny_benchmark import CAM_PIPELINE_TINY
from tool_runs import run_main, run_ok

STEPS = ['stage1', 'maps', 'eval_maps', 'pseudo_labels', 'pseudo_labels_crf', 'stage3', 'test',
         'summary']
CAM = osp.join(REPO_ROOT, 'configs/pipelines/cam_synthetic.py')


def pipeline(run, *extra, options=()) -> str:
    """tools/pipeline.py on ``run``'s work dir (in this process); its whole output."""
    return run_ok('pipeline', CAM_DEMO_ARGS + list(extra) + [
        '--verbose', '--cfg-options', *CAM_PIPELINE_TINY, *options], cwd=run.root)


def ran(log: str) -> list:
    """The steps a run executed, in order."""
    return re.findall(r'step "(\w+)" \(\w+\): running', log)


def plan(run, *options) -> dict:
    """``{step: 'done' | reason}`` from --list."""
    log = pipeline(run, '--list', options=options)
    states = {}
    for line in log.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0] in STEPS + ['sharpened']:
            states[parts[0]] = parts[2]
    return states


@pytest.fixture
def finished(cam_pipeline):
    """The finished tiny CAM pipeline of the session (tests/shared_pipelines.py): read it,
    never change it (``copy_run`` first)."""
    return cam_pipeline


def test_first_run_writes_every_output(finished):
    work_dir, data_root, log = finished.work_dir, finished.data_root, finished.log
    assert ran(log) == STEPS
    assert osp.isfile(osp.join(data_root, 'benchmark.json'))  # generated on first use
    for name in ('summary.json', 'figure.png', 'stage1', 'stage3', 'test'):
        assert osp.exists(osp.join(work_dir, name)), name
    for name in STEPS:
        assert osp.isfile(osp.join(work_dir, '.pipeline', f'{name}.json')), name
    assert not [f for f in os.listdir(osp.join(work_dir, '.pipeline')) if 'started' in f]
    assert len(os.listdir(osp.join(work_dir, 'maps'))) == 16
    assert len([f for f in os.listdir(osp.join(work_dir, 'pseudo_labels_crf'))
                if f.endswith('.png')]) == 16
    with open(osp.join(work_dir, 'summary.json')) as f:
        summary = json.load(f)
    kinds = [row['kind'] for row in summary['rows']]
    assert kinds == ['maps', 'maps_recall', 'maps_precision', 'labels', 'labels', 'segmentor']
    assert 0 <= summary['rows'][-1]['mIoU'] <= 100
    assert summary['steps']['test']['labels'] == 'pseudo_labels_crf'
    assert 'DeepLab val' in log  # the table is printed
    assert 'load backbone. in model from' in log  # init_backbone_from='stage1'


def test_unchanged_rerun_runs_nothing(finished):
    log = pipeline(finished)
    assert ran(log) == []
    assert all(f'step "{name}": up to date, skipped' in log for name in STEPS)
    assert set(plan(finished).values()) == {'done'}
    # parallelism is not part of a fingerprint
    assert set(plan(finished, 'pseudo_labels.nproc=2').values()) == {'done'}


def test_changes_rerun_the_step_and_everything_downstream(finished):
    # a stage-1 change reruns everything
    states = plan(finished, 'stage1.cfg_options.optim_wrapper.optimizer.lr=0.02')
    assert 'optim_wrapper.optimizer.lr: 0.05 -> 0.02' in states['stage1']
    assert all(state != 'done' for state in states.values())
    # a stage-2 change: the labels and stage 3 rerun, not stage 1 or the maps
    states = plan(finished, 'pseudo_labels.generator.bg_threshold=0.4')
    assert [name for name, state in states.items() if state == 'done'] == [
        'stage1', 'maps', 'eval_maps']
    assert 'bg_threshold: 0.3 -> 0.4' in states['pseudo_labels']
    assert 'input step' in states['pseudo_labels_crf']
    # --force reruns the step and its dependants only
    states = plan(finished, 'pseudo_labels.nproc=1')  # sanity: all done
    assert set(states.values()) == {'done'}
    log = pipeline(finished, '--list', '--force', 'eval_maps')
    assert 'eval_maps               EvaluateMaps            to run: forced' in log
    assert 'summary                 Summarize               to run' in log
    assert 'maps                    InferMaps               done' in log


def test_stage2_change_reruns_stage2_and_3_and_resume(tmp_path, finished):
    """Run on a copy of the finished work dir: a stage-2 parameter reruns the labels, stage 3
    and its test (and copied checkpoints are found inside the copy), not stage 1 or the maps;
    then an interrupted stage 3 resumes from its checkpoint; deleting stage1/ reruns all."""
    run = copy_run(finished, str(tmp_path / 'copy'))
    work_dir = run.work_dir
    log = pipeline(run, options=['pseudo_labels.generator.bg_threshold=0.4'])
    assert ran(log) == ['pseudo_labels', 'pseudo_labels_crf', 'stage3', 'test', 'summary']
    assert 'bg_threshold: 0.3 -> 0.4' in log

    # interrupted stage 3: its record gone, its started marker and checkpoints left
    records = osp.join(work_dir, '.pipeline')
    with open(osp.join(records, 'stage3.json')) as f:
        record = json.load(f)
    os.remove(osp.join(records, 'stage3.json'))
    with open(osp.join(records, 'stage3.started.json'), 'w') as f:
        json.dump(dict(fingerprint=record['fingerprint'], inputs=record['inputs']), f)
    os.remove(osp.join(work_dir, 'stage3', 'iter_4.pth'))
    with open(osp.join(work_dir, 'stage3', 'last_checkpoint'), 'w') as f:
        f.write('/somewhere/else/stage3/iter_2.pth')  # as in a copied work dir
    log = pipeline(run, options=['pseudo_labels.generator.bg_threshold=0.4'])
    assert 'interrupted before, resuming' in log
    assert 'resumed epoch: 0, iter: 2' in log
    assert ran(log) == ['stage3', 'test', 'summary']

    # deleting stage 1's folder reruns everything
    shutil.rmtree(osp.join(work_dir, 'stage1'))
    states = plan(run, 'pseudo_labels.generator.bg_threshold=0.4')
    assert 'outputs are gone' in states['stage1']
    assert all(state != 'done' for state in states.values())


PLUGIN_STEP = '''
import os
import numpy as np
from wsss_toolbox.maps.io import load_maps, map_path, save_maps
from wsss_toolbox.pipeline import PipelineStep
from wsss_toolbox.registry import PIPELINE_STEPS


@PIPELINE_STEPS.register_module()
class SharpenMaps(PipelineStep):
    """Toy method step: raise every map to a power."""
    input_args = ('maps', )

    def __init__(self, name, runner, maps='maps', power=2.0):
        super().__init__(name, runner, maps=maps, power=power)

    def samples(self):
        return self.runner.step(self.options['maps']).samples()

    def run(self):
        source = self.runner.step(self.options['maps']).out_dir
        samples, _ = self.samples()
        for sample in samples:
            record = load_maps(map_path(source, sample['img_id']))
            save_maps(map_path(self.out_dir, sample['img_id']), record['img_id'],
                      record['classes'], record['maps'] ** self.options['power'])
        return dict(count=len(samples))
'''


def test_plugin_step_through_custom_imports(tmp_path, finished):
    """A method defined outside the package adds its own step; the steps it shares with the
    finished run (same configuration) are reused, the rest run. The command line as a user
    types it (a subprocess, from another folder, the plugin on PYTHONPATH): the one
    subprocess test of tools/pipeline.py, the other tests call its ``main`` in this process."""
    run = copy_run(finished, str(tmp_path / 'copy'))
    plugin = tmp_path / 'toy_method'
    plugin.mkdir()
    (plugin / '__init__.py').write_text('')
    (plugin / 'steps.py').write_text(PLUGIN_STEP)
    config = tmp_path / 'configs' / 'toy_synthetic.py'
    config.parent.mkdir()
    config.write_text(textwrap.dedent(f'''
        _base_ = ['{REPO_ROOT}/configs/pipelines/cam_synthetic.py']
        custom_imports = dict(imports=['toy_method.steps'], allow_failed_imports=False)
        steps = ['stage1', 'maps', 'sharpened', 'eval_maps', 'pseudo_labels']
        sharpened = dict(type='SharpenMaps', maps='maps', power=2.0)
        eval_maps = dict(maps='sharpened')
        pseudo_labels = dict(maps='sharpened')
    '''))
    # another folder, whose data/ is the run's (the shared run's data_root is the relative
    # 'data/synthetic', which is part of the fingerprints)
    other_cwd = tmp_path / 'elsewhere'
    other_cwd.mkdir()
    os.symlink(osp.join(run.root, 'data'), other_cwd / 'data')
    proc = subprocess.run(
        [PYTHON, osp.join(REPO_ROOT, 'tools/pipeline.py'), str(config), '--work-dir',
         run.work_dir, '--verbose', '--cfg-options', *CAM_PIPELINE_TINY],
        cwd=str(other_cwd), capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHONPATH=f'{REPO_ROOT}:{tmp_path}', OMP_NUM_THREADS='1'))
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert ran(log) == ['sharpened', 'eval_maps', 'pseudo_labels']
    assert 'step "stage1": up to date' in log and 'step "maps": up to date' in log
    assert len(os.listdir(osp.join(run.work_dir, 'sharpened'))) == 16


def test_until_stops_after_the_step(tmp_path, finished):
    run = copy_run(finished, str(tmp_path / 'until'))
    log = pipeline(run, '--until', 'pseudo_labels',
                   options=['pseudo_labels.generator.bg_threshold=0.5'])
    assert ran(log) == ['pseudo_labels'] and 'stopping after step "pseudo_labels"' in log


def run_failing(args):
    status, log = run_main('pipeline', args)
    assert status != 0, log[-3000:]
    return log


def test_unknown_keys_and_steps_are_errors(tmp_path):
    work_dir = str(tmp_path / 'w')
    log = run_failing([CAM, '--work-dir', work_dir, '--list',
                       '--cfg-options', 'pseudo_label.nproc=1'])
    assert 'unknown key "pseudo_label"' in log
    log = run_failing([CAM, '--work-dir', work_dir, '--list', '--cfg-options', 'maps.scale=[1.0]'])
    assert 'step "maps" (InferMaps)' in log and "'scale'" in log
    log = run_failing([CAM, '--work-dir', work_dir, '--force', 'stage_1'])
    assert 'no step named "stage_1"' in log
    log = run_failing([CAM, '--work-dir', work_dir, '--list',
                       '--cfg-options', 'steps=[maps,stage1]'])
    assert 'reads step "stage1", which is not listed before it' in log


def test_second_run_on_a_work_dir_stops_with_a_message(tmp_path):
    from wsss_toolbox.pipeline import WorkDirLock, WorkDirLockedError
    lock_file = str(tmp_path / 'w' / '.pipeline' / 'lock')
    with WorkDirLock(lock_file):
        log = run_failing([CAM, '--work-dir', str(tmp_path / 'w'),
                           '--cfg-options', f'data_root={tmp_path}/d'])
        assert 'in use by another pipeline run' in log and lock_file in log
        with pytest.raises(WorkDirLockedError):
            WorkDirLock(lock_file).acquire()
    assert not osp.exists(lock_file)  # released
    # a lock left by a process that is gone is taken over
    os.makedirs(osp.dirname(lock_file), exist_ok=True)
    dead = subprocess.Popen(['true'])
    dead.wait()
    import socket
    with open(lock_file, 'w') as f:
        json.dump(dict(pid=dead.pid, host=socket.gethostname()), f)
    with pytest.warns(UserWarning, match='no longer runs'):
        with WorkDirLock(lock_file):
            pass


def test_stage_configs_resolve_against_the_declaring_file(tmp_path):
    """A pipeline inheriting configs/pipelines/cam_synthetic.py from another folder keeps its
    `../cam/...` paths relative to configs/pipelines/; its own are relative to itself."""
    from wsss_toolbox.pipeline import load_pipeline_config
    from wsss_toolbox.utils import register_all_modules
    register_all_modules()
    (tmp_path / 'mine').mkdir()
    (tmp_path / 'mine' / 'stage3.py').write_text(
        f"_base_ = ['{REPO_ROOT}/configs/deeplab/"
        "deeplab-largefov_tiny_1xb8-600it_synthetic-pseudo-128x128.py']\n")
    child = tmp_path / 'mine' / 'child.py'
    child.write_text(f"_base_ = ['{REPO_ROOT}/configs/pipelines/cam_synthetic.py']\n"
                     "stage3 = dict(config='./stage3.py')\n")
    cfg = load_pipeline_config(str(child))
    assert cfg.stage1.config == osp.join(REPO_ROOT,
                                         'configs/cam/cam_tiny_1xb16-8e_synthetic-128x128.py')
    assert cfg.stage3.config == str(tmp_path / 'mine' / 'stage3.py')
