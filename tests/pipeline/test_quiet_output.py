"""A quiet pipeline run (tools/pipeline.py without --verbose): one line per step on the
terminal, everything a step writes in <work_dir>/logs/<step>.log; a failing step shows its
log's last lines and the error. Before, every message of every step reached the terminal."""
import subprocess
import sys

import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger, print_log

from wsss_toolbox.pipeline import (
    PipelineConfigError,
    PipelineRunner,
    PipelineStep,
    SummaryRow,
    check_pipeline_config,
)
from wsss_toolbox.registry import PIPELINE_STEPS

# what a step writes through each path a run's output takes
# (Python warnings are written to sys.stderr; pytest records them itself)
WRITTEN = ['print()', 'print_log current', 'sys.stderr', 'a new mmengine logger',
           'a child process']


@PIPELINE_STEPS.register_module(force=True)
class _Chatty(PipelineStep):
    """Writes each of WRITTEN; its headline is an mIoU."""
    writes_folder = False

    def run(self):
        print('print()')
        print_log('print_log current', logger='current')
        sys.stderr.write('sys.stderr\n')
        # as mmengine's Runner: a logger of its own, created (and its stream bound) now
        MMLogger.get_instance(f'chatty-{id(self)}').info('a new mmengine logger')
        subprocess.run([sys.executable, '-c', 'print("a child process")'], check=True)
        return dict(miou=12.5)

    def summary_rows(self, result):
        return [SummaryRow(name='chatty labels', kind='labels', step=self.name,
                           mIoU=result['miou'])]


@PIPELINE_STEPS.register_module(force=True)
class _Failing(PipelineStep):
    writes_folder = False

    def run(self):
        print('what it did before the error')
        raise RuntimeError('the step broke')


def _runner(tmp_path, steps, verbose=False):
    cfg = Config(dict(steps=list(steps), **{name: dict(type=kind) for name, kind in
                                            steps.items()}))
    return PipelineRunner(cfg, str(tmp_path / 'work'), verbose=verbose)


def test_a_quiet_run_shows_one_line_per_step_and_logs_the_rest(tmp_path, capfd):
    runner = _runner(tmp_path, dict(first=_Chatty.__name__, second=_Chatty.__name__))
    runner.run()
    out, err = capfd.readouterr()
    lines = out.splitlines()
    assert len(lines) == 2, out + err
    assert lines[0].startswith('[1/2] first') and ' run ' in lines[0]
    assert 'chatty labels: mIoU 12.50 %' in lines[0] and ' s ' in lines[0]
    for text in WRITTEN:
        assert text not in out + err
    with open(runner.path('logs', 'second.log')) as f:
        log = f.read()
    for text in WRITTEN:
        assert text in log, text
    assert 'running -- not run yet' in log  # the reason it ran
    # a second run: each step up to date, on its line
    runner.run()
    out, err = capfd.readouterr()
    assert [line.split()[1:5] for line in out.splitlines()] == [
        ['first', '_Chatty', 'up', 'to'], ['second', '_Chatty', 'up', 'to']]
    assert not err


def test_verbose_shows_everything(tmp_path, capfd):
    _runner(tmp_path, dict(first=_Chatty.__name__), verbose=True).run()
    out, err = capfd.readouterr()
    for text in WRITTEN:
        assert text in out + err, text


def test_a_failing_step_shows_its_error_and_names_its_log(tmp_path, capfd):
    runner = _runner(tmp_path, dict(ok=_Chatty.__name__, broken=_Failing.__name__))
    with pytest.raises(RuntimeError, match='the step broke'):
        runner.run()
    out, err = capfd.readouterr()
    log_path = runner.path('logs', 'broken.log')
    assert 'broken               _Failing               FAILED' in out
    assert f'log: {log_path}' in out
    assert 'what it did before the error' in err  # the log's last lines
    with open(log_path) as f:
        log = f.read()
    assert 'RuntimeError: the step broke' in log  # the traceback is kept in the log
    # the streams are back: later output reaches the terminal
    print('after the run')
    assert 'after the run' in capfd.readouterr().out


def test_no_step_may_be_named_like_the_log_folder():
    cfg = Config(dict(steps=['logs'], logs=dict(type=_Chatty.__name__)))
    with pytest.raises(PipelineConfigError, match='may not be named "logs"'):
        check_pipeline_config(cfg, 'pipe.py')
