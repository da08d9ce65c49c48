"""The package layout: methods are plugins of the core, never imported by it.

* No module of ``wsss_toolbox`` outside ``wsss_toolbox/methods/`` imports
  ``wsss_toolbox.methods`` -- statically, lazily inside a function, relatively, or by a module
  path string (``importlib.import_module``, registry ``locations``, ``custom_imports``). The
  one exception is the dynamic discovery of the built-in methods in
  ``wsss_toolbox/utils.py`` (``register_all_modules``).
* Every method folder ``wsss_toolbox/methods/<name>/`` has its configs' README
  (``configs/<name>/README.md``) and its tests (``tests/methods/<name>/``), and every config
  of ``configs/<name>/`` imports the method through ``custom_imports``, as a third-party
  plugin would be.
"""
import ast
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PACKAGE = osp.join(REPO, 'wsss_toolbox')
METHODS = 'wsss_toolbox.methods'
# the only core module allowed to name the methods package (it discovers them on disk)
DISCOVERY_MODULE = 'wsss_toolbox.utils'


def module_name(path: str) -> str:
    parts = osp.relpath(path, REPO)[:-len('.py')].split(os.sep)
    if parts[-1] == '__init__':
        parts = parts[:-1]
    return '.'.join(parts)


def core_modules():
    """(module name, path) of every .py file of the package outside ``methods/``."""
    for path in sorted(glob.glob(osp.join(PACKAGE, '**', '*.py'), recursive=True)):
        name = module_name(path)
        if name != METHODS and not name.startswith(METHODS + '.'):
            yield name, path


def names_methods(module: str) -> bool:
    return module == METHODS or module.startswith(METHODS + '.')


def resolve_relative(module: str, is_package: bool, level: int, target) -> str:
    """The absolute module of ``from <level dots><target> import ...`` in ``module``."""
    package = module.split('.') if is_package else module.split('.')[:-1]
    base = package[:len(package) - (level - 1)] if level > 1 else package
    return '.'.join(base + ([target] if target else []))


def imports_of_methods(module: str, path: str) -> list:
    """Every place where ``path`` imports or names the methods package: (line, what)."""
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), filename=path)
    is_package = osp.basename(path) == '__init__.py'
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, f'import {alias.name}') for alias in node.names
                      if names_methods(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                base = resolve_relative(module, is_package, node.level, node.module)
            candidates = [base] + [f'{base}.{alias.name}' for alias in node.names]
            if any(names_methods(candidate) for candidate in candidates):
                found.append((node.lineno, f'from {"." * node.level}{node.module or ""} '
                              f'import {", ".join(a.name for a in node.names)}'))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # a module path in a string: import_module / __import__ / registry locations /
            # custom_imports (prose mentioning the package is not a bare module path)
            if names_methods(node.value.strip()):
                found.append((node.lineno, repr(node.value)))
    return found


def test_the_checker_catches_every_form_of_import(tmp_path):
    forms = {
        'import wsss_toolbox.methods.oaa': True,
        'from wsss_toolbox.methods import oaa': True,
        'from wsss_toolbox import methods': True,
        'from ..methods import oaa': True,  # in wsss_toolbox/engine/x.py
        'from .. import methods': True,
        'def f():\n    from wsss_toolbox.methods.oaa.store import CumulativeMapStore': True,
        "importlib.import_module('wsss_toolbox.methods.oaa')": True,
        "locations = ['wsss_toolbox.methods.oaa']": True,
        'from ..models import heads': False,
        'from .hooks import x': False,
        '"""See the methods package wsss_toolbox.methods for plugins."""': False,
    }
    for index, (source, expected) in enumerate(forms.items()):
        path = tmp_path / f'form{index}.py'
        path.write_text(source + '\n')
        found = imports_of_methods('wsss_toolbox.engine.x', str(path))
        assert bool(found) == expected, source


def test_core_never_imports_the_methods():
    offenders = []
    for module, path in core_modules():
        found = imports_of_methods(module, path)
        if module == DISCOVERY_MODULE:
            # dynamic discovery only: a module path string, never an import statement
            found = [(line, what) for line, what in found if not what.startswith("'")]
        offenders += [f'{osp.relpath(path, REPO)}:{line}: {what}' for line, what in found]
    assert not offenders, 'the core imports the methods package:\n' + '\n'.join(offenders)


def test_methods_package_init_imports_nothing():
    with open(osp.join(PACKAGE, 'methods', '__init__.py'), encoding='utf-8') as f:
        tree = ast.parse(f.read())
    assert all(isinstance(node, ast.Expr) for node in tree.body)  # the docstring only


@pytest.fixture(scope='module')
def fresh_interpreter_imports() -> dict:
    """One fresh interpreter imports every core sub-package, records the method modules then
    loaded, then runs ``register_all_modules`` and records them again (one interpreter start
    for the two checks below)."""
    core = sorted({module.split('.')[1] for module, _ in core_modules() if '.' in module})
    code = ('import importlib, json, sys\n'
            f'for name in {core!r}:\n'
            "    importlib.import_module('wsss_toolbox.' + name)\n"
            f"core_only = [m for m in sys.modules if m.startswith({METHODS!r})]\n"
            'from wsss_toolbox.utils import import_builtin_methods, register_all_modules\n'
            'register_all_modules(init_default_scope=False)\n'
            f"registered = [m for m in sys.modules if m.startswith({METHODS!r})]\n"
            'print(json.dumps(dict(core_only=core_only, registered=registered, '
            'discovered=import_builtin_methods())))\n')
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO, check=True, timeout=300,
                          capture_output=True, text=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_importing_the_core_loads_no_method(fresh_interpreter_imports):
    """The same at run time, in a fresh interpreter: every core sub-package imported."""
    assert fresh_interpreter_imports['core_only'] == []


def method_names():
    return sorted(name for name in os.listdir(osp.join(PACKAGE, 'methods'))
                  if osp.isfile(osp.join(PACKAGE, 'methods', name, '__init__.py')))


def test_there_are_methods():
    assert 'oaa' in method_names()


@pytest.mark.parametrize('name', method_names())
def test_each_method_has_configs_readme_and_tests(name):
    assert osp.isfile(osp.join(REPO, 'configs', name, 'README.md')), name
    tests = osp.join(REPO, 'tests', 'methods', name)
    assert osp.isdir(tests) and glob.glob(osp.join(tests, 'test_*.py')), name


@pytest.mark.parametrize('name', method_names())
def test_each_method_config_imports_its_method(name):
    from mmengine.config import Config
    configs = sorted(glob.glob(osp.join(REPO, 'configs', name, '*.py')))
    assert configs
    for path in configs:
        cfg = Config.fromfile(path, import_custom_modules=False)
        imports = cfg.get('custom_imports', {}).get('imports', [])
        assert f'{METHODS}.{name}' in imports, path
        assert cfg.custom_imports.get('allow_failed_imports') is False, path


def test_register_all_modules_imports_every_builtin_method(fresh_interpreter_imports):
    for name in method_names():
        assert f'{METHODS}.{name}' in fresh_interpreter_imports['registered'], name
    assert fresh_interpreter_imports['discovered'] == method_names()


def test_modules_over_400_lines_say_why():
    """A module of the package over ~400 lines says at its top why it is not split."""
    long_without_reason = []
    for path in glob.glob(osp.join(REPO, 'wsss_toolbox', '**', '*.py'), recursive=True):
        with open(path) as f:
            text = f.read()
        if text.count('\n') > 400:
            doc = ast.get_docstring(ast.parse(text)) or ''
            if 'Over 400 lines' not in doc:
                long_without_reason.append(osp.relpath(path, REPO))
    assert long_without_reason == []
