"""tools/analysis/run_synthetic_comparison.sh: which pipelines it runs with which options, and
the work dirs it starts from a copy of (a stub stands in for the Python interpreter)."""
import os
import os.path as osp
import subprocess

from conftest import REPO_ROOT

SCRIPT = osp.join(REPO_ROOT, 'tools', 'analysis', 'run_synthetic_comparison.sh')


def run_script(tmp_path, *methods):
    calls = tmp_path / 'calls.txt'
    stub = tmp_path / 'python'
    stub.write_text(f'#!/usr/bin/env bash\necho "$@" >> {calls}\n')
    stub.chmod(0o755)
    root = tmp_path / 'compare'
    subprocess.run(['bash', SCRIPT, str(root), *methods], check=True,
                   env=dict(os.environ, PYTHON=str(stub)), capture_output=True)
    return root, calls.read_text().splitlines()


def test_pretrained_twins_run_with_their_regimes_inputs(tmp_path):
    root = tmp_path / 'compare'
    (root / 'cam-pretrained' / '.pipeline').mkdir(parents=True)
    (root / 'cam-pretrained' / '.pipeline' / 'lock').write_text('')
    (root / 'cam-pretrained' / 'stage1').mkdir()
    (root / 'cam-pretrained' / 'stage1' / 'epoch_8.pth').write_text('weights')
    root, calls = run_script(tmp_path, 'cam_saliency-pretrained', 'oaa-plus-pretrained',
                             'oaa-plus', 'cam-irn')
    pipelines = [call.split()[1] for call in calls if 'pipeline.py' in call]
    assert pipelines == ['configs/pipelines/cam_saliency-pretrained_synthetic.py',
                         'configs/pipelines/oaa-plus-pretrained_synthetic.py',
                         'configs/pipelines/oaa-plus_synthetic.py',
                         'configs/pipelines/cam-irn_synthetic.py']
    # the saliency twin starts from a copy of the finished CAM run of its regime (no lock)
    assert (root / 'cam_saliency-pretrained' / 'stage1' / 'epoch_8.pth').read_text() == 'weights'
    assert not (root / 'cam_saliency-pretrained' / '.pipeline' / 'lock').exists()
    assert not (root / 'cam-irn').exists()  # no scratch CAM run to copy
    # OAA+ reads the cumulative maps of the OAA run of its own regime
    assert f'map_dir={root}/oaa-pretrained/maps' in calls[1]
    assert f'map_dir={root}/oaa/maps' in calls[2]


def test_pretrained_runs_all_twins(tmp_path):
    _, calls = run_script(tmp_path, 'pretrained')
    pipelines = [call.split()[1] for call in calls if 'pipeline.py' in call]
    assert len(pipelines) == 13 and all('-pretrained_synthetic.py' in p for p in pipelines)
    assert all(osp.isfile(osp.join(REPO_ROOT, p)) for p in pipelines)
