"""Finished tiny pipelines shared by several test files (session fixtures, imported by
tests/conftest.py): each is built once per test process, and the files that read it share an
``xdist_group`` (tests/conftest.py, SHARED_RUN_GROUPS), so `make test` builds it once. Tests
read the finished work dir, or change a copy of it (``copy_run``)."""
import os
import os.path as osp
import shutil
from typing import NamedTuple

import pytest
from tiny_benchmark import CAM_PIPELINE_TINY
from tool_runs import REPO_ROOT, run_ok

CAM_CONFIG = 'configs/pipelines/cam_synthetic.py'
# the README's first command (tests/test_readme.py checks that it still reads so)
CAM_DEMO_ARGS = [CAM_CONFIG, '--work-dir', 'work_dirs/demo']


class FinishedRun(NamedTuple):
    root: str  # the folder the commands ran in (configs/, tools/, .venv/ linked)
    work_dir: str
    data_root: str
    log: str


def scratch_repo(root: str) -> str:
    """``root`` laid out as the repository for commands with relative paths."""
    os.makedirs(root, exist_ok=True)
    for name in ('configs', 'tools', '.venv'):
        os.symlink(osp.join(REPO_ROOT, name), osp.join(root, name))
    return root


def copy_run(run: FinishedRun, root: str) -> FinishedRun:
    """A copy of a finished run (data, work dir and links) at ``root``, to change."""
    shutil.copytree(run.root, root, symlinks=True)
    return run._replace(root=root, work_dir=osp.join(root, osp.relpath(run.work_dir, run.root)),
                        data_root=osp.join(root, osp.relpath(run.data_root, run.root)))


@pytest.fixture(scope='session')
def cam_pipeline(tmp_path_factory) -> FinishedRun:
    """configs/pipelines/cam_synthetic.py finished, as the README's demo command runs it
    (relative ``data/synthetic`` and ``work_dirs/demo``) with CAM_PIPELINE_TINY's sizes."""
    root = scratch_repo(str(tmp_path_factory.mktemp('cam_demo') / 'repo'))
    log = run_ok('pipeline', CAM_DEMO_ARGS + ['--verbose', '--cfg-options', *CAM_PIPELINE_TINY],
                 cwd=root)
    return FinishedRun(root, osp.join(root, 'work_dirs', 'demo'),
                       osp.join(root, 'data', 'synthetic'), log)
