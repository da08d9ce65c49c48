"""tools/gpu_check.sh and the offline kit of `make gpu-kit`.

The rehearsal test installs .gpu_kit/ into a fresh venv whose only other packages are those
the GPU machine has preinstalled (linked from .venv), builds mmcv-lite and imports the stack:
a wheel missing from the kit or a wrong build flag fails here, before GPU time is spent. To
stay near a minute it skips the pydensecrf2 build (`--skip-crf`, a C++ compile of ~2 minutes
on two cores); `bash tools/gpu_check.sh --cpu-rehearsal OUT` runs all of it. Without
.gpu_kit/ (it needs the package index: `make gpu-kit`) that test skips.
"""
import json
import os
import os.path as osp
import subprocess

import pytest
from conftest import REPO_ROOT

SCRIPT = osp.join(REPO_ROOT, 'tools', 'gpu_check.sh')
KIT = osp.join(REPO_ROOT, '.gpu_kit')
MAX_KIT_BYTES = 64 * 2**20  # what the device machine takes along with the tree


def _run(args, env_extra=None, timeout=300) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    env.update(env_extra or {})
    return subprocess.run(['bash', SCRIPT] + args, cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_missing_kit_names_the_make_target(tmp_path):
    proc = _run(['--kit', str(tmp_path / 'no_kit'), str(tmp_path / 'out')])
    assert proc.returncode == 2
    assert f'no kit folder {tmp_path / "no_kit"}' in proc.stderr
    assert "run 'make gpu-kit'" in proc.stderr


def test_gpu_mode_on_a_cpu_machine_says_so(tmp_path):
    """Without CUDA the GPU mode stops at its first part, naming the rehearsal option."""
    kit = tmp_path / 'kit'
    kit.mkdir()
    for name in ('SHA256SUMS', 'runtime.txt', 'build.txt'):
        (kit / name).write_text('')
    # as on the bare GPU machine, no torchvision (its import is half of this test's time): the
    # check's first part reports it and goes on; torch is .venv's own
    hide = tmp_path / 'no_torchvision' / 'torchvision'
    hide.mkdir(parents=True)
    (hide / '__init__.py').write_text("raise ImportError('no torchvision here')\n")
    out = tmp_path / 'out'
    proc = _run(['--kit', str(kit), '--env', str(tmp_path / 'env'), str(out)],
                env_extra={'PYTHON': osp.join(REPO_ROOT, '.venv', 'bin', 'python'),
                           'PYTHONPATH': str(hide.parent)})
    assert '"torchvision": "not importable (ImportError)"' in proc.stdout
    assert proc.returncode == 1
    assert 'sees no CUDA device' in proc.stdout and '--cpu-rehearsal' in proc.stdout
    assert 'sees no CUDA device' in (out / 'gpu_check.log').read_text()


def test_kit_pins_match_the_requirements():
    """The Makefile's kit list carries the versions requirements/pins.txt pins."""
    proc = subprocess.run(['make', '-n', 'gpu-kit'], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    with open(osp.join(REPO_ROOT, 'requirements', 'pins.txt')) as f:
        pins = [line.split('#')[0].strip() for line in f if '==' in line.split('#')[0]]
    assert 'mmcv==2.1.0' in pins
    for pin in pins:
        if not pin.startswith(('torch==', 'torchvision==')):  # the GPU machine's own
            assert pin in proc.stdout, f'{pin} (requirements/pins.txt) is not in the kit'


@pytest.mark.skipif(not osp.isfile(osp.join(KIT, 'SHA256SUMS')),
                    reason='no .gpu_kit/: run `make gpu-kit` (needs the package index) to '
                    'build the offline kit; this test then rehearses its install')
@pytest.mark.skipif(not osp.isfile(osp.join(REPO_ROOT, '.venv', 'bin', 'python')),
                    reason='the rehearsal borrows the torch of .venv: run `make setup`')
def test_rehearsal_installs_the_kit_and_imports_the_stack(tmp_path):
    kit_bytes = sum(osp.getsize(osp.join(KIT, name)) for name in os.listdir(KIT))
    assert kit_bytes < MAX_KIT_BYTES, f'.gpu_kit/ holds {kit_bytes / 2**20:.1f} MiB'
    out = tmp_path / 'out'
    proc = _run(['--cpu-rehearsal', '--install-only', '--skip-crf', '--env',
                 str(tmp_path / 'env'), str(out)])
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    with open(out / 'gpu_check.json') as f:
        summary = json.load(f)
    statuses = {part['name']: part['status'] for part in summary['parts']}
    assert statuses == {'rehearsal-venv': 'ok', 'python': 'ok', 'install': 'ok',
                        'build-mmcv': 'ok', 'build-crf': 'skipped', 'build': 'ok',
                        'requirements': 'ok', 'imports': 'ok'}
    log = (out / 'gpu_check.log').read_text()
    # everything beyond the GPU machine's packages came from the kit's install folder
    for module in ('mmengine', 'mmcv', 'mmseg'):
        assert f'{tmp_path}/env/site/{module}/__init__.py' in log
    assert 'mmcv ops: stub over mmcv-lite' in log
    assert summary['mode'] == 'cpu-rehearsal' and summary['ok']
