"""Training-time machinery: the checkpoint-loading fix for torch >= 2.6 and CPU torchrun."""
from .checkpoint import load_local_checkpoint, patch_mmengine_checkpoint_loading
from .distributed import DeviceAgnosticDDP, finish_distributed, prepare_distributed

patch_mmengine_checkpoint_loading()

__all__ = [
    'load_local_checkpoint', 'patch_mmengine_checkpoint_loading', 'DeviceAgnosticDDP',
    'prepare_distributed', 'finish_distributed'
]
