"""Training-time machinery: the checkpoint-loading fix for torch >= 2.6, CPU torchrun, the
stage-1 visualization hook and the seeding that makes resumed runs exact."""
from .checkpoint import load_local_checkpoint, patch_mmengine_checkpoint_loading
from .distributed import DeviceAgnosticDDP, finish_distributed, prepare_distributed
from .pretrained import SCHEME, shipped_checkpoint, shipped_provenance
from .seeding import ResumableSeedHook, seed_worker_from_torch
from .visualization_hook import MapVisualizationHook

patch_mmengine_checkpoint_loading()

__all__ = [
    'load_local_checkpoint', 'patch_mmengine_checkpoint_loading', 'DeviceAgnosticDDP',
    'prepare_distributed', 'finish_distributed', 'MapVisualizationHook', 'ResumableSeedHook',
    'seed_worker_from_torch', 'SCHEME', 'shipped_checkpoint', 'shipped_provenance'
]
