"""Training-time machinery: hooks and the checkpoint-loading fix for torch >= 2.6."""
from .checkpoint import load_local_checkpoint, patch_mmengine_checkpoint_loading
from .distributed import DeviceAgnosticDDP, finish_distributed, prepare_distributed
from .hooks import *  # noqa: F401,F403

patch_mmengine_checkpoint_loading()

__all__ = [
    'load_local_checkpoint', 'patch_mmengine_checkpoint_loading', 'DeviceAgnosticDDP',
    'prepare_distributed', 'finish_distributed'
]
