"""Config files renamed in v0.2.0 (mmseg's file naming) still load from their old paths for
one version, with a DeprecationWarning naming the new path, and give the new file's config;
a config that inherits an old path warns the same. Before, the old paths did not exist."""
import glob
import os.path as osp
import textwrap
import warnings

import pytest
from conftest import REPO_ROOT

from wsss_toolbox.engine.config import load_config

# every config renamed since v0.1.0 (git log --diff-filter=R -- configs; the two OAA++
# configs' renames git lists as a delete and an add): old -> new
RENAMED = {
    'cam/cam_tiny_synthetic.py': 'cam/cam_tiny_1xb16-8e_synthetic-128x128.py',
    'cam/cam_vgg16_voc12.py': 'cam/cam_vgg16_1xb5-15e_voc12aug-224x224.py',
    'deeplab/deeplab-largefov_r101_voc12-pseudo_321x321_15k.py':
        'deeplab/deeplab-largefov_r101_1xb10-15k_voc12aug-pseudo-321x321.py',
    'deeplab/deeplab-largefov_tiny_synthetic.py':
        'deeplab/deeplab-largefov_tiny_1xb8-600it_synthetic-pseudo-128x128.py',
    'deeplab/deeplab-largefov_vgg16_voc12-pseudo_321x321_15k.py':
        'deeplab/deeplab-largefov_vgg16_1xb10-15k_voc12aug-pseudo-321x321.py',
    'deeplab/deeplabv3_r101-d8_voc12-pseudo_321x321_20k.py':
        'deeplab/deeplabv3_r101-d8_1xb10-20k_voc12aug-pseudo-321x321.py',
    'mcis/mcis_tiny_1xb8-8e_synthetic-128x128.py': 'mcis/mcis_tiny_1xb8-4e_synthetic-128x128.py',
    'oaa/oaa_tiny_synthetic.py': 'oaa/oaa_tiny_1xb16-8e_synthetic-128x128.py',
    'oaa/oaa_vgg16_voc12.py': 'oaa/oaa_vgg16_1xb5-15e_voc12aug-224x224.py',
    'oaa/oaa-avg_tiny_synthetic.py': 'oaa/oaa-avg_tiny_1xb16-8e_synthetic-128x128.py',
    'oaa/oaa-avg_vgg16_voc12.py': 'oaa/oaa-avg_vgg16_1xb5-15e_voc12aug-224x224.py',
    'oaa/oaa-drop_tiny_synthetic.py': 'oaa/oaa-drop_tiny_1xb16-8e_synthetic-128x128.py',
    'oaa/oaa-drop_vgg16_voc12.py': 'oaa/oaa-drop_vgg16_1xb5-15e_voc12aug-224x224.py',
    'oaa/oaa-plus_tiny_synthetic.py': 'oaa/oaa-plus_tiny_1xb16-8e_synthetic-128x128.py',
    'oaa/oaa-plus_vgg16_voc12.py': 'oaa/oaa-plus_vgg16_1xb5-15e_voc12aug-224x224.py',
    'oaa/oaa-drop-plus_tiny_synthetic.py': 'oaa/oaa-drop-plus_tiny_1xb16-8e_synthetic-128x128.py',
    'oaa/oaa-drop-plus_vgg16_voc12.py': 'oaa/oaa-drop-plus_vgg16_1xb5-15e_voc12aug-224x224.py',
}
CONFIGS = osp.join(REPO_ROOT, 'configs')


def _load_new(path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        cfg = load_config(path)
    assert not [w for w in caught if 'will be deprecated' in str(w.message)]  # a current one
    return cfg


@pytest.mark.parametrize('old', sorted(RENAMED))
def test_old_path_loads_the_new_config_with_a_warning(old):
    new = RENAMED[old]
    with pytest.warns(DeprecationWarning, match=f'Please use configs/{new} instead') as caught:
        cfg = load_config(osp.join(CONFIGS, old))
    # warned again from the caller, where Python's default filters show it
    assert __file__ in [w.filename for w in caught if 'Please use' in str(w.message)]
    assert '_deprecation_' not in cfg
    assert cfg.to_dict() == _load_new(osp.join(CONFIGS, new)).to_dict()


def test_every_deprecated_config_is_a_renamed_one():
    marked = {osp.relpath(path, CONFIGS) for path in glob.glob(osp.join(CONFIGS, '*', '*.py'))
              if '_deprecation_' in open(path).read()}
    assert marked == set(RENAMED)


def test_a_config_inheriting_an_old_path_warns(tmp_path):
    for name, base in (('mine_old.py', 'cam/cam_tiny_synthetic.py'),
                       ('mine_new.py', RENAMED['cam/cam_tiny_synthetic.py'])):
        (tmp_path / name).write_text(textwrap.dedent(f"""\
            _base_ = '{osp.join(CONFIGS, base)}'
            train_cfg = dict(max_epochs=2)
            """))
    with pytest.warns(DeprecationWarning, match='cam_tiny_synthetic.py will be deprecated.*'
                      'Please use configs/cam/cam_tiny_1xb16-8e_synthetic-128x128.py'):
        mine = load_config(str(tmp_path / 'mine_old.py'))
    assert mine.train_cfg.max_epochs == 2
    assert mine.to_dict() == _load_new(tmp_path / 'mine_new.py').to_dict()
