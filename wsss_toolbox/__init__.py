"""wsss_toolbox: weakly supervised semantic segmentation from image-level labels.

Importing the package makes mmengine's checkpoint loading work on torch >= 2.6
(see :mod:`wsss_toolbox.engine.checkpoint`); components register on import of their
subpackages, or all at once with :func:`wsss_toolbox.utils.register_all_modules`.
"""
from .engine.checkpoint import patch_mmengine_checkpoint_loading
from .version import __version__

patch_mmengine_checkpoint_loading()

__all__ = ['__version__']
