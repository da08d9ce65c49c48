"""The grouped settings of :class:`~wsss_toolbox.methods.oaa.recorder.CumulativeMapRecorderHook`.

The recorder takes its storage settings as ``store=dict(...)`` and its file settings as
``export=dict(...)``; the paper-vs-authors switches stay named arguments. The flat keyword
arguments of earlier versions (``bits=8``, ``export_dir=...``) still work for one version:
each emits a ``DeprecationWarning`` that names its new spelling.
"""
import warnings
from typing import Mapping, Optional, Tuple

#: ``store=dict(...)`` keys and their defaults
STORE_DEFAULTS = dict(bits=8, backend='memory', memmap_dir='cumulative_store', keep_last=False,
                      sync_interval=0, batched=True)
#: ``export=dict(...)`` keys and their defaults (folders relative to the work dir)
EXPORT_DEFAULTS = dict(dir='cumulative_maps', mode='toolbox', interpolation='bicubic',
                       raw_dir=None, snapshot_ids=None, snapshot_dir='cumulative_map_snapshots')
#: deprecated flat argument -> (group, key)
FLAT_NAMES = {
    'bits': ('store', 'bits'),
    'backend': ('store', 'backend'),
    'memmap_dir': ('store', 'memmap_dir'),
    'keep_last': ('store', 'keep_last'),
    'sync_interval': ('store', 'sync_interval'),
    'batched': ('store', 'batched'),
    'export_dir': ('export', 'dir'),
    'export_mode': ('export', 'mode'),
    'export_interpolation': ('export', 'interpolation'),
    'export_raw_dir': ('export', 'raw_dir'),
    'snapshot_ids': ('export', 'snapshot_ids'),
    'snapshot_dir': ('export', 'snapshot_dir'),
}
_DEFAULTS = dict(store=STORE_DEFAULTS, export=EXPORT_DEFAULTS)


def group_options(store: Optional[Mapping], export: Optional[Mapping],
                  flat: Mapping) -> Tuple[dict, dict]:
    """The complete ``store`` and ``export`` settings (defaults filled in).

    Args:
        store, export: the grouped settings as given (None: all defaults).
        flat: deprecated flat keyword arguments (see :data:`FLAT_NAMES`).

    Raises:
        TypeError: an unknown keyword argument.
        ValueError: an unknown key in ``store`` / ``export``, or a setting given both flat
            and grouped.
    """
    groups = dict(store=dict(store or {}), export=dict(export or {}))
    for group, given in groups.items():
        unknown = sorted(set(given) - set(_DEFAULTS[group]))
        if unknown:
            raise ValueError(f'CumulativeMapRecorderHook: unknown {group}=dict(...) key(s) '
                             f'{unknown}; the keys are {sorted(_DEFAULTS[group])}')
    for name, value in flat.items():
        if name not in FLAT_NAMES:
            raise TypeError(f'CumulativeMapRecorderHook got an unexpected keyword argument '
                            f'{name!r}')
        group, key = FLAT_NAMES[name]
        if key in groups[group]:
            raise ValueError(f'CumulativeMapRecorderHook: {name}= and {group}=dict({key}=...) '
                             f'both given; keep only {group}=dict({key}=...)')
        warnings.warn(f'CumulativeMapRecorderHook({name}=...) is deprecated and will be '
                      f'removed in the next version; use {group}=dict({key}=...)',
                      DeprecationWarning, stacklevel=3)
        groups[group][key] = value
    return ({**STORE_DEFAULTS, **groups['store']}, {**EXPORT_DEFAULTS, **groups['export']})
