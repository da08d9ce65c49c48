"""Stage-2 localization maps: the per-image ``.npz`` map files and map normalisation.

Map inference (imported from its modules, not from here): :mod:`.inference` (the loop over the
images that writes the map files), :mod:`.tta` (views, flips, scales, fusion),
:mod:`.partners` (partner groups), :mod:`.forward` (batching by view size, amp,
channels-last) and :mod:`.feature_grid` (IRN's make_cam aggregation).
"""
from .io import MAP_SUFFIX, atomic_write, load_maps, map_path, save_maps, strided_shape
from .normalize import NORMALIZE_MODES, normalize_maps

__all__ = [
    'MAP_SUFFIX', 'atomic_write', 'load_maps', 'map_path', 'save_maps', 'strided_shape',
    'NORMALIZE_MODES', 'normalize_maps'
]
