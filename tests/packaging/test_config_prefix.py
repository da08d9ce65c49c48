"""``_base_ = ['wsss_toolbox::...']``: configs outside the repository inherit shipped ones."""
import os.path as osp
import re
import sys

from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.registry import init_default_scope

from wsss_toolbox.registry import MODELS
from wsss_toolbox.utils import register_all_modules

CAM = 'cam/cam_tiny_1xb16-8e_synthetic-128x128.py'
PLUGIN_MODULES = ('my_method', 'my_method.heads')


def test_a_config_elsewhere_inherits_a_shipped_config(tmp_path, monkeypatch):
    (tmp_path / 'mine.py').write_text(f"_base_ = ['wsss_toolbox::{CAM}']\n"
                                      'model = dict(head=dict(num_classes=5))\n')
    monkeypatch.chdir(tmp_path)  # no configs/ folder here
    cfg = Config.fromfile('mine.py')
    shipped = Config.fromfile(osp.join(REPO_ROOT, 'configs', CAM))
    assert cfg.model.head.num_classes == 5 and shipped.model.head.num_classes != 5
    assert cfg.model.backbone.type == shipped.model.backbone.type == 'TinyConvNet'
    assert cfg.train_cfg.max_epochs == shipped.train_cfg.max_epochs
    # the shipped config's own relative _base_ files were found too
    assert cfg.train_dataloader.dataset.type == shipped.train_dataloader.dataset.type
    assert cfg.default_scope == 'wsss_toolbox'


def readme_plugin_files() -> dict:
    """``{'my_method/heads.py': source, ...}``: the python blocks of README.md's plugin
    section, named by their first-line comment."""
    with open(osp.join(REPO_ROOT, 'README.md')) as f:
        section = f.read().split('## Adding your own method as a plugin', 1)[1]
    blocks = re.findall(r'```python\n# (\S+)\n(.*?)```', section, flags=re.S)
    return {name: source for name, source in blocks}


def test_readme_plugin_example_loads_from_another_folder(tmp_path, monkeypatch):
    files = readme_plugin_files()
    assert sorted(files) == ['my_method/config.py', 'my_method/heads.py']
    assert 'wsss_toolbox::' in files['my_method/config.py']
    (tmp_path / 'my_method').mkdir()
    (tmp_path / 'my_method' / '__init__.py').write_text('')
    for name, source in files.items():
        (tmp_path / name).write_text(source)
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.syspath_prepend(str(tmp_path))
    # tests/engine/test_plugin.py imports a `my_method` of its own in the same process
    saved = {name: sys.modules.pop(name) for name in PLUGIN_MODULES if name in sys.modules}
    try:
        cfg = Config.fromfile(str(tmp_path / 'my_method' / 'config.py'))  # custom_imports
        assert sys.modules['my_method.heads'].__file__ == str(tmp_path / 'my_method/heads.py')
        register_all_modules(init_default_scope=False)
        init_default_scope('wsss_toolbox')
        model = MODELS.build(cfg.model)
    finally:
        for name in PLUGIN_MODULES:
            sys.modules.pop(name, None)
        sys.modules.update(saved)
    assert type(model.head).__name__ == 'MyHead'
    assert type(model.backbone).__name__ == 'TinyConvNet'  # from the shipped base
