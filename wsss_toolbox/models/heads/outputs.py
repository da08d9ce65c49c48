"""The output dict of attention heads, with the key renamed in v0.2.0 kept readable.

v0.1.0's heads returned their raw class activation maps as ``outputs['maps']``; since v0.2.0
the key is ``'cams'`` (``'maps'`` means localization maps and map files). A plugin head or
loss written for v0.1.0 keeps working for one version: :class:`HeadOutputs` reads and writes
``'maps'`` as ``'cams'`` with a ``DeprecationWarning`` naming the new key. Removed in v0.3.0.
"""
import warnings
from typing import Any, Dict, Mapping

#: renamed keys of head outputs: old -> new
RENAMED_KEYS: Dict[str, str] = {'maps': 'cams'}


def _warn(old: str) -> None:
    # stacklevel 4: the code that wrote outputs[old] (-> _warn <- _key <- __getitem__ ...)
    warnings.warn(
        f"head outputs['{old}'] is deprecated: the key is '{RENAMED_KEYS[old]}' since "
        f"wsss_toolbox v0.2.0 (read and write outputs['{RENAMED_KEYS[old]}']); "
        f"'{old}' is removed in v0.3.0.", DeprecationWarning, stacklevel=4)


class HeadOutputs(dict):
    """``dict`` of a head's forward outputs where a renamed key (:data:`RENAMED_KEYS`) reads
    and writes its new key, with a ``DeprecationWarning``. Iteration, ``keys()`` and copies
    show the new keys only."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.update(*args, **kwargs)

    def _key(self, key: Any) -> Any:
        if isinstance(key, str) and key in RENAMED_KEYS and not dict.__contains__(self, key):
            _warn(key)
            return RENAMED_KEYS[key]
        return key

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(self._key(key))

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(self._key(key), value)

    def __delitem__(self, key: Any) -> None:
        super().__delitem__(self._key(key))

    def __contains__(self, key: Any) -> bool:
        return super().__contains__(self._key(key))

    def get(self, key: Any, default: Any = None) -> Any:
        return super().get(self._key(key), default)

    def pop(self, key: Any, *default: Any) -> Any:
        return super().pop(self._key(key), *default)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        return super().setdefault(self._key(key), default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        items = dict(*args, **kwargs)
        for key, value in items.items():
            if RENAMED_KEYS.get(key) in items:  # both spellings given: neither is the alias
                dict.__setitem__(self, key, value)
            else:
                self[key] = value


def as_head_outputs(outputs: Any) -> Any:
    """``outputs`` as :class:`HeadOutputs` when it is a mapping (a head written for v0.1.0
    that returns ``'maps'`` has it stored as ``'cams'``, with a warning); anything else as
    it is."""
    if isinstance(outputs, HeadOutputs) or not isinstance(outputs, Mapping):
        return outputs
    return HeadOutputs(outputs)
