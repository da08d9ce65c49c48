"""The recorder's grouped settings (``store=dict(...)``, ``export=dict(...)``) and the
deprecated flat keyword arguments they replace."""
import warnings

import pytest

from wsss_toolbox.methods.oaa.hooks import CumulativeMapRecorderHook
from wsss_toolbox.methods.oaa.recorder_options import FLAT_NAMES

ATTRIBUTES = ('bits', 'backend', 'memmap_dir', 'keep_last', 'sync_interval', 'batched',
              'export_dir', 'export_mode', 'export_interpolation', 'export_raw_dir',
              'snapshot_ids', 'snapshot_dir')
FLAT = dict(bits=16, backend='memmap', memmap_dir='mm', keep_last=True, sync_interval=3,
            batched=False, export_dir='out', export_mode='authors',
            export_interpolation='bilinear', export_raw_dir='raw', snapshot_ids='all',
            snapshot_dir='snaps')


def _settings(hook):
    return {name: getattr(hook, name) for name in ATTRIBUTES}


def test_flat_arguments_warn_with_the_new_spelling_and_give_the_same_hook():
    store, export = {}, {}
    for name, value in FLAT.items():
        group, key = FLAT_NAMES[name]
        (store if group == 'store' else export)[key] = value
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # the grouped spelling does not warn
        grouped = CumulativeMapRecorderHook(fusion='mean', store=store, export=export)
    with pytest.warns(DeprecationWarning) as caught:
        flat = CumulativeMapRecorderHook(fusion='mean', **FLAT)
    assert _settings(flat) == _settings(grouped) == FLAT
    messages = [str(w.message) for w in caught]
    assert len(messages) == len(FLAT)
    assert any('export_dir=' in m and 'export=dict(dir=...)' in m for m in messages)
    assert any('bits=' in m and 'store=dict(bits=...)' in m for m in messages)


def test_defaults_are_unchanged():
    hook = CumulativeMapRecorderHook()
    assert _settings(hook) == dict(
        bits=8, backend='memory', memmap_dir='cumulative_store', keep_last=False,
        sync_interval=0, batched=True, export_dir='cumulative_maps', export_mode='toolbox',
        export_interpolation='bicubic', export_raw_dir=None, snapshot_ids=None,
        snapshot_dir='cumulative_map_snapshots')
    assert CumulativeMapRecorderHook(export=dict(dir=None)).export_dir is None


def test_wrong_settings_name_the_key_and_the_fix():
    with pytest.raises(ValueError, match=r"unknown store=dict\(...\) key\(s\) \['bit'\]"):
        CumulativeMapRecorderHook(store=dict(bit=8))
    with pytest.raises(ValueError, match=r"unknown export=dict\(...\) key\(s\) \['export_dir'\]"):
        CumulativeMapRecorderHook(export=dict(export_dir='x'))
    with pytest.raises(TypeError, match="unexpected keyword argument 'bitz'"):
        CumulativeMapRecorderHook(bitz=8)
    with pytest.raises(ValueError, match=r'export_dir= and export=dict\(dir=...\) both given'):
        CumulativeMapRecorderHook(export_dir='a', export=dict(dir='b'))
    with pytest.raises(ValueError, match='export_mode'):
        CumulativeMapRecorderHook(export=dict(mode='paper'))


def test_shipped_configs_use_the_grouped_spelling():
    """No shipped OAA config relies on the deprecated flat arguments."""
    import glob
    import os.path as osp
    import warnings

    from mmengine.config import Config

    from wsss_toolbox.methods.oaa import CumulativeMapRecorderHook
    root = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs', 'oaa')
    paths = sorted(glob.glob(osp.join(root, '*.py')))
    assert len(paths) > 10
    for path in paths:
        for hook in Config.fromfile(path).get('custom_hooks', []):
            if hook['type'] != 'CumulativeMapRecorderHook':
                continue
            with warnings.catch_warnings():
                warnings.simplefilter('error', DeprecationWarning)
                CumulativeMapRecorderHook(**{k: v for k, v in hook.items() if k != 'type'})
