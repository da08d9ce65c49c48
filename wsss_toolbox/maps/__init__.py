"""Stage-2 localization maps: the per-image ``.npz`` map files and map normalisation."""
from .io import MAP_SUFFIX, atomic_write, load_maps, map_path, save_maps, strided_shape
from .normalize import NORMALIZE_MODES, normalize_maps

__all__ = [
    'MAP_SUFFIX', 'atomic_write', 'load_maps', 'map_path', 'save_maps', 'strided_shape',
    'NORMALIZE_MODES', 'normalize_maps'
]
