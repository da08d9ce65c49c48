"""Every tool that reads a config reports a syntax error with the config's path and line
(mmengine alone says ``File "<unknown>"``): run in this process, as ``python tools/X.py``."""
import os.path as osp
import runpy
import sys

import pytest
from conftest import REPO_ROOT

from wsss_toolbox.engine.config import ConfigSyntaxError

BROKEN = "lr = 0.1\nmodel = dict(type='X',\nsteps = 3\n"


def run_tool_here(monkeypatch, tool, args):
    monkeypatch.setattr(sys, 'argv', [tool] + args)
    monkeypatch.setenv('LOCAL_RANK', '0')
    runpy.run_path(osp.join(REPO_ROOT, 'tools', tool), run_name='__main__')


@pytest.mark.parametrize('tool, args', [
    ('train.py', []),
    ('test.py', ['{checkpoint}']),
    ('infer_maps.py', ['{checkpoint}', '--out-dir', '{tmp}/maps']),
    ('make_pseudo_labels.py', []),
    ('eval_maps.py', ['{tmp}', '--config']),
    ('eval_labels.py', ['{tmp}', '--config']),
])
def test_tools_name_the_config_and_line(tmp_path, monkeypatch, tool, args):
    config = tmp_path / 'broken.py'
    config.write_text(BROKEN)
    checkpoint = tmp_path / 'any.pth'
    checkpoint.write_bytes(b'')
    args = [arg.format(checkpoint=checkpoint, tmp=tmp_path) for arg in args]
    # the config is the first positional argument, or the value of --config
    args = args + [str(config)] if args[-1:] == ['--config'] else [str(config)] + args
    with pytest.raises(ConfigSyntaxError) as error:
        run_tool_here(monkeypatch, tool, args)
    assert error.value.filename == str(config) and error.value.lineno == 2
    assert f'in config file "{config}", line 2' in str(error.value)


def test_pipeline_tool_prints_the_config_and_line(tmp_path, monkeypatch, capsys):
    config = tmp_path / 'pipeline.py'
    config.write_text(BROKEN)
    with pytest.raises(SystemExit) as exit_info:
        run_tool_here(monkeypatch, 'pipeline.py', [str(config)])
    assert exit_info.value.code == 2
    assert f'in config file "{config}", line 2' in capsys.readouterr().err
