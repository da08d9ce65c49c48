"""tools/analysis/benchmark_stage3.py on the CPU with tiny sizes (the GPU check runs it on
CUDA): every variant builds the model it names, trains and predicts, and the JSON has a row
per variant; a CPU ``--amp`` is refused with a message naming the fix."""
import importlib.util
import json
import os.path as osp

import pytest
from conftest import REPO_ROOT

SCRIPT = osp.join(REPO_ROOT, 'tools', 'analysis', 'benchmark_stage3.py')
TINY = osp.join(REPO_ROOT, 'configs', 'deeplab',
                'deeplab-largefov_tiny_1xb8-600it_synthetic-pseudo-128x128.py')


@pytest.fixture(scope='module')
def bench():
    spec = importlib.util.spec_from_file_location('benchmark_stage3', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run_on_cpu_writes_a_row_per_variant(bench, tmp_path):
    out = str(tmp_path / 'stage3.json')
    bench.main(['--config', TINY, '--batch-size', '1', '--crop-size', '32', '--iters', '1',
                '--warmup', '0', '--repeats', '1', '--threads', '1', '--channels-last',
                '--out', out])
    with open(out) as f:
        result = json.load(f)
    rows = result['rows']
    assert sorted(rows) == ['mmseg_encdec fp32', 'mmseg_fcn fp32', 'toolbox fp32']
    assert rows['toolbox fp32']['model'] == 'CRFEncoderDecoder + LargeFOVHead'
    assert rows['mmseg_encdec fp32']['model'] == 'EncoderDecoder + LargeFOVHead'
    assert rows['mmseg_fcn fp32']['model'] == 'EncoderDecoder + FCNHead'
    # same backbone and head: the same weights; FCNHead's second conv is 3x3, not 1x1
    assert rows['toolbox fp32']['params'] == rows['mmseg_encdec fp32']['params']
    assert rows['mmseg_fcn fp32']['params'] > rows['toolbox fp32']['params']
    assert rows['toolbox fp32']['toolbox_train_speedup'] == 1.0
    for row in rows.values():
        assert row['train_images_per_second'] > 0 and row['infer_images_per_second'] > 0


def test_amp_on_cpu_is_refused(bench, capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(['--amp'])
    assert '--amp needs --device cuda' in capsys.readouterr().err
