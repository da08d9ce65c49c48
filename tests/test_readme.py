"""The README's commands run as written (so the README cannot drift from the tools).

Every ```bash block of README.md is read; each command that uses the project's interpreter
(`.venv/bin/python tools/...`) and names no placeholder (CONFIG, CKPT, DIR ...) runs in a
scratch folder that looks like the repository (configs/, tools/, .venv/ linked). Only the
size changes: the benchmark gets 16 + 4 images of 48x48, training gets one epoch / four
iterations (and the checkpoint names follow), the pipeline the options of its own tests.
The scratch folder starts as a copy of the session's finished demo (tests/shared_pipelines.py,
made by the README's first pipeline command in this process), so the commands run on it as
on a machine where `make demo` ran.

A script whose command line runs nowhere else runs as a user types it (a subprocess, its
first command); the others run their ``main`` in this process (tests/tool_runs.py), with the
same arguments, without the interpreter start (~5 s each).
"""
import os
import os.path as osp
import re
import shlex
import subprocess

import pytest
from conftest import REPO_ROOT
from shared_pipelines import CAM_DEMO_ARGS, copy_run
from tiny_benchmark import CAM_PIPELINE_TINY
from tool_runs import run_main

PLACEHOLDER = re.compile(r'\b(CONFIG|CKPT|DIR|NUM_PROCS|CHECKPOINT)\b')
SHRINK = {
    'tools/dataset_converters/make_synthetic_benchmark.py':
        ['--num-train', '16', '--num-val', '4', '--image-size', '48', '--workers', '1'],
}
LOADERS = [f'{loader}.{key}' for loader in ('train_dataloader', 'val_dataloader',
                                           'test_dataloader')
           for key in ('num_workers=0', 'persistent_workers=False')]
# stage-1 configs train by epochs, stage-3 (configs/deeplab) by iterations
EPOCHS = ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1'] + LOADERS
ITERS = ['train_cfg.max_iters=4', 'train_cfg.val_interval=4',
         'default_hooks.checkpoint.interval=4'] + LOADERS
RENAME = {'epoch_8.pth': 'epoch_1.pth', 'iter_600.pth': 'iter_4.pth'}
# scripts whose command line runs as a subprocess in another test: in this process here
COMMAND_LINE_TESTED_ELSEWHERE = {
    'tools/pipeline.py':
        'tests/pipeline/test_pipeline.py::test_plugin_step_through_custom_imports',
    'tools/train.py': 'tests/packaging/test_mim_commands.py (mim train)',
    'tools/test.py': 'tests/packaging/test_mim_commands.py (mim test)',
    'tools/dataset_converters/make_synthetic_benchmark.py':
        'tests/packaging/test_mim_commands.py (mim run)',
}


def readme_commands():
    """``(variables, [argv, ...])`` of the runnable commands of README.md, in order."""
    with open(osp.join(REPO_ROOT, 'README.md')) as f:
        text = f.read()
    commands = []
    for block in re.findall(r'```bash\n(.*?)```', text, flags=re.S):
        for line in block.replace('\\\n', ' ').splitlines():
            line = line.split(' #')[0].strip()
            if not line or line.startswith('#'):
                continue
            commands.append(line)
    return commands


def run(line, env, cwd, started=None):
    """Run one README line (a variable assignment updates ``env``); return its output. The
    first command of each script runs as a user types it (a subprocess); a later one of the
    same script, or one of a script in ``started`` from the start, runs its ``main`` with the
    same arguments in this process, without the interpreter start."""
    assignment = re.fullmatch(r'([A-Z_]+)=(\S+)', line)
    if assignment:
        env[assignment.group(1)] = assignment.group(2)
        return ''
    argv = [re.sub(r'\$(\w+)', lambda m: env[m.group(1)], part) for part in shlex.split(line)]
    for old, new in RENAME.items():  # fewer epochs / iterations, other checkpoint names
        argv = [part.replace(old, new) for part in argv]
    script = argv[1]
    extra = list(SHRINK.get(script, []))
    if script in ('tools/train.py', 'tools/pipeline.py'):
        options = CAM_PIPELINE_TINY if script == 'tools/pipeline.py' else (
            ITERS if 'configs/deeplab/' in argv[2] else EPOCHS)
        if '--cfg-options' in argv:
            argv += options
        else:
            extra += ['--cfg-options'] + options
    if started is not None and script in started:
        status, output = run_main(script[len('tools/'):-len('.py')], argv[2:] + extra, cwd)
    else:
        proc = subprocess.run(argv + extra, cwd=cwd, capture_output=True, text=True,
                              timeout=600,
                              env=dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS='1'))
        status, output = proc.returncode, proc.stdout + proc.stderr
    if started is not None:
        started.add(script)
    assert status == 0, f'README command failed: {line}\n{output[-4000:]}'
    return output


@pytest.mark.timeout(900)
def test_readme_commands_run_as_written(tmp_path, cam_pipeline):
    lines = [line for line in readme_commands()
             if line.startswith(('.venv/bin/python tools/', 'P=', 'CAM=', 'DEEPLAB='))
             and not PLACEHOLDER.search(line)]
    scripts = {shlex.split(line)[1] for line in lines if line.startswith('.venv')}
    # the blocks this test exists for are there
    assert {'tools/pipeline.py', 'tools/train.py', 'tools/infer_maps.py', 'tools/eval_maps.py',
            'tools/make_pseudo_labels.py', 'tools/eval_labels.py', 'tools/test.py',
            'tools/dataset_converters/make_synthetic_benchmark.py'} <= scripts
    # the demo command is the one the shared run made (its outputs: test_pipeline.py)
    assert shlex.split(lines[0])[1:] == ['tools/pipeline.py'] + CAM_DEMO_ARGS
    scratch = copy_run(cam_pipeline, str(tmp_path / 'repo')).root
    env, started = {}, set(COMMAND_LINE_TESTED_ELSEWHERE)
    outputs = [run(line, env, scratch, started) for line in lines]
    assert 'up to date' in outputs[0] and 'running' not in outputs[0]
    # a few things each command promises
    assert osp.isfile(osp.join(scratch, 'data', 'synthetic', 'benchmark.json'))
    assert osp.isfile(osp.join(scratch, 'work_dirs', 'demo', 'summary.json'))
    assert len(os.listdir(osp.join(scratch, 'work_dirs', 'cam', 'maps'))) == 16
    assert len([f for f in os.listdir(osp.join(scratch, 'work_dirs', 'cam', 'pseudo_labels'))
                if f.endswith('.png')]) == 16
    assert any('load backbone. in model from' in out for out in outputs)  # stage 3 init
    assert any('mIoU' in out for out in outputs[-1:])  # tools/test.py prints its metrics
