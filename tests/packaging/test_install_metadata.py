"""setup.py and what it installs: requirement ranges and pins, LICENSE, version, .mim files."""
import hashlib
import os.path as osp
import re
import subprocess
import sys
import zipfile
from distutils.core import run_setup

import pytest
from conftest import REPO_ROOT
from mmengine.utils import get_installed_path
from packaging.requirements import Requirement
from packaging.version import Version

import wsss_toolbox
from wsss_toolbox import version as version_module

PACKAGE_DIR = osp.join(REPO_ROOT, 'wsss_toolbox')
MIM_ENTRIES = ('configs', 'tools', 'model-index.yml')
# sha256 of the Apache License 2.0 text (https://www.apache.org/licenses/LICENSE-2.0.txt)
APACHE_2_SHA256 = 'cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30'


def read_lines(path):
    with open(osp.join(REPO_ROOT, path)) as f:
        return [line.split('#', 1)[0].strip() for line in f
                if line.split('#', 1)[0].strip()]


@pytest.fixture(scope='module')
def distribution():
    return run_setup(osp.join(REPO_ROOT, 'setup.py'), stop_after='init')


def test_install_requires_are_ranges_that_the_pins_satisfy(distribution):
    requires = {Requirement(r).name: Requirement(r) for r in distribution.install_requires}
    expected = {'torch': '>=2.0', 'mmcv': '<2.2.0,>=2.0.0', 'mmengine': '<1.0,>=0.10',
                'mmsegmentation': '<1.3,>=1.2'}
    assert {name: str(requires[name].specifier) for name in expected} == expected
    assert not [r for r in requires.values() if any(s.operator == '==' for s in r.specifier)]
    pins = {Requirement(r).name: Requirement(r) for r in read_lines('requirements/pins.txt')}
    for name, requirement in requires.items():
        if name in pins and any(s.operator == '==' for s in pins[name].specifier):
            pinned = next(iter(pins[name].specifier)).version
            assert requirement.specifier.contains(pinned), f'{name}=={pinned} vs {requirement}'
    for name in ('torch', 'torchvision', 'mmengine', 'mmcv', 'mmsegmentation'):
        assert str(pins[name].specifier).startswith('=='), name
    assert 'openmim' in read_lines('requirements/tests.txt')


def test_make_setup_installs_the_pins():
    with open(osp.join(REPO_ROOT, 'Makefile')) as f:
        makefile = f.read()
    recipe = makefile.split('\n$(STAMP):', 1)[1].split('\n\n', 1)[0]
    assert 'requirements/pins.txt' in recipe.splitlines()[0]  # a changed pin reruns setup
    assert re.search(r'pip install [^\n]*-r requirements/pins\.txt', recipe)
    # the versions the recipe installs first (torch before mmcv's build) are the pins
    pins = read_lines('requirements/pins.txt')
    early = re.findall(r'"([\w-]+==[^"]+)"', recipe)
    assert early and not [pin for pin in early if pin not in pins], early


def test_license_is_apache_2(distribution):
    assert distribution.get_license() == 'Apache License 2.0'
    with open(osp.join(REPO_ROOT, 'LICENSE'), 'rb') as f:
        first, blank, text = f.read().split(b'\n', 2)
    assert re.fullmatch(rb'Copyright \d{4} wsss_toolbox contributors\. All rights reserved\.',
                        first) and blank == b''
    assert hashlib.sha256(text).hexdigest() == APACHE_2_SHA256


def test_version_info_is_mmseg_style():
    assert version_module.__all__ == ['__version__', 'version_info', 'parse_version_info']
    assert version_module.version_info == tuple(
        int(part) for part in wsss_toolbox.__version__.split('.'))
    assert Version(wsss_toolbox.__version__).release == version_module.version_info
    parse = version_module.parse_version_info
    assert parse('1.2.0') == (1, 2, 0) and parse('1.0.0rc1') == (1, 0, 0, 'rc1')


def test_mim_files_link_to_the_repository_folders():
    for name in MIM_ENTRIES:
        path = osp.join(PACKAGE_DIR, '.mim', name)
        assert osp.islink(path) and osp.realpath(path) == osp.join(REPO_ROOT, name), name


def test_the_installed_package_is_found_with_its_mim_files():
    """mim and mmengine look for ``<location>/<top_level.txt>/.mim``; with the editable
    install the location holds no package folder (setup.py's EditableWheel)."""
    path = get_installed_path('wsss_toolbox')
    assert osp.realpath(path) == osp.realpath(PACKAGE_DIR)
    assert osp.isfile(osp.join(path, '.mim', 'model-index.yml'))


def build(tmp_path, command):
    subprocess.run([sys.executable, 'setup.py', '-q', 'egg_info', '--egg-base', str(tmp_path)]
                   + command, cwd=REPO_ROOT, check=True, capture_output=True)
    wheels = list((tmp_path / 'dist').glob('*.whl'))
    assert len(wheels) == 1
    return zipfile.ZipFile(wheels[0])


@pytest.mark.slow  # a setup.py subprocess
def test_wheel_carries_copies_of_the_mim_files(tmp_path):
    wheel = build(tmp_path, ['build', '--build-base', str(tmp_path / 'build'), 'bdist_wheel',
                             '--bdist-dir', str(tmp_path / 'bdist'), '-d', str(tmp_path / 'dist')])
    names = set(wheel.namelist())
    for path in ('.mim/model-index.yml', '.mim/configs/cam/metafile.yml',
                 '.mim/configs/cam/cam_tiny_1xb16-8e_synthetic-128x128.py',
                 '.mim/configs/_base_/default_runtime.py', '.mim/tools/train.py',
                 '.mim/tools/test.py', '.mim/tools/dist_train.sh'):
        assert f'wsss_toolbox/{path}' in names, path
    top_level = next(n for n in names if n.endswith('.dist-info/top_level.txt'))
    assert wheel.read(top_level).decode().split() == ['wsss_toolbox']


@pytest.mark.slow  # a setup.py subprocess
def test_editable_wheel_names_the_source_folder(tmp_path):
    wheel = build(tmp_path, ['editable_wheel', '--dist-dir', str(tmp_path / 'dist')])
    top_level = next(n for n in wheel.namelist() if n.endswith('.dist-info/top_level.txt'))
    assert wheel.read(top_level).decode().split() == [PACKAGE_DIR, 'wsss_toolbox']
