"""A third-party method plugs in through `custom_imports` without touching the toolbox."""
import os.path as osp
import sys

from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.registry import init_default_scope

from wsss_toolbox.registry import MODELS
from wsss_toolbox.utils import register_all_modules

PLUGIN = '''
from wsss_toolbox.models.heads import CAMHead
from wsss_toolbox.registry import MODELS


@MODELS.register_module()
class DoubledLossHead(CAMHead):
    def loss(self, outputs, data_samples):
        return {k: 2 * v for k, v in super().loss(outputs, data_samples).items()}
'''


def test_custom_imports_plugin(tmp_path, monkeypatch):
    package = tmp_path / 'my_method'
    package.mkdir()
    (package / '__init__.py').write_text('')
    (package / 'heads.py').write_text(PLUGIN)
    base = osp.join(REPO_ROOT, 'configs', 'cam', 'cam_tiny_1xb16-8e_synthetic-128x128.py')
    (tmp_path / 'config.py').write_text(
        f"_base_ = [{base!r}]\n"
        "custom_imports = dict(imports=['my_method.heads'], allow_failed_imports=False)\n"
        "model = dict(head=dict(type='DoubledLossHead'))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    register_all_modules(init_default_scope=False)
    init_default_scope('wsss_toolbox')
    cfg = Config.fromfile(str(tmp_path / 'config.py'))  # runs the custom import
    assert 'my_method.heads' in sys.modules
    model = MODELS.build(cfg.model)
    assert type(model.head).__name__ == 'DoubledLossHead'
    assert type(model.backbone).__name__ == 'TinyConvNet'  # the rest comes from _base_
