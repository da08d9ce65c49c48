"""Fingerprints of step configurations: a canonical JSON form, its hash, and a readable diff.

A step's fingerprint is the SHA-256 of the canonical JSON of everything that decides its
result: its options, the resolved stage configs it trains or reads (after ``_base_`` merging
and ``cfg_options``), the run ids of its inputs and the toolbox version. Keys that only change
how fast a result is made (:data:`VOLATILE_KEYS`) are left out, so ``nproc=8`` on a rerun
does not retrain anything.
"""
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Dict, List

# option names that never change a step's result (parallelism, where files go)
VOLATILE_KEYS = frozenset({'nproc', 'num_workers', 'persistent_workers', 'work_dir',
                           'launcher'})


def canonical(value: Any) -> Any:
    """``value`` as plain JSON types: mappings with sorted string keys, tuples as lists,
    anything else JSON cannot hold as its ``repr``; :data:`VOLATILE_KEYS` dropped."""
    if hasattr(value, 'to_dict') and callable(value.to_dict):
        value = value.to_dict()
    if isinstance(value, Mapping):  # ``step.options`` too (steps of earlier versions return it)
        return {str(key): canonical(item) for key, item in sorted(value.items(), key=lambda kv:
                                                                   str(kv[0]))
                if str(key) not in VOLATILE_KEYS}
    if isinstance(value, (list, tuple)):
        return [canonical(item) for item in value]
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return 'nan'
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def fingerprint(value: Any) -> str:
    """Hex SHA-256 of the canonical JSON of ``value``."""
    text = json.dumps(canonical(value), sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(text.encode()).hexdigest()


def flatten(value: Any, prefix: str = '') -> Dict[str, Any]:
    """``{'a.b.0': leaf, ...}`` of a canonical value (lists indexed like mmengine keys)."""
    if isinstance(value, dict) and value:
        items = value.items()
    elif isinstance(value, list) and value:
        items = ((str(index), item) for index, item in enumerate(value))
    else:
        return {prefix: value}
    flat = {}
    for key, item in items:
        flat.update(flatten(item, f'{prefix}.{key}' if prefix else key))
    return flat


def describe_changes(old: Any, new: Any, limit: int = 4) -> List[str]:
    """Lines ``key: old -> new`` of the leaves that differ between two canonical values."""
    old_flat, new_flat = flatten(old), flatten(new)
    lines = []
    for key in sorted(set(old_flat) | set(new_flat)):
        before, after = old_flat.get(key, '<absent>'), new_flat.get(key, '<absent>')
        if before != after:
            lines.append(f'{key}: {_short(before)} -> {_short(after)}')
    if len(lines) > limit:
        lines = lines[:limit] + [f'... and {len(lines) - limit} more']
    return lines


def _short(value: Any, width: int = 60) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[:width - 3] + '...'
