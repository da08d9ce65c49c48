"""Stage-2 localization maps: the per-image ``.npz`` map files."""
from .io import MAP_SUFFIX, atomic_write, load_maps, map_path, save_maps

__all__ = ['MAP_SUFFIX', 'atomic_write', 'load_maps', 'map_path', 'save_maps']
