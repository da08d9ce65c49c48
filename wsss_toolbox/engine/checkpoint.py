"""Make mmengine 0.10.7 checkpoints loadable on torch >= 2.6.

torch 2.6 changed ``torch.load``'s default to ``weights_only=True``. mmengine 0.10.7 calls
``torch.load(filename, map_location=...)`` and its resume checkpoints hold more than tensors
(the message hub's ``HistoryBuffer``, numpy scalars and dtypes), so ``--resume`` and
``load_from`` fail with an ``UnpicklingError`` (mmengine#1655, fixed on mmengine main only).

Instead of asking users for ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` we replace mmengine's
local-file loader through its own extension point (``CheckpointLoader.register_scheme``)
with one that keeps the ``weights_only=True`` unpickler and allows exactly the extra globals
mmengine writes into its checkpoints (checked by disassembling a resume checkpoint).
"""
import os.path as osp
from typing import Any, List, Optional

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader


def mmengine_checkpoint_globals() -> List[Any]:
    """The non-tensor types found in checkpoints saved by mmengine's runner."""
    try:  # numpy >= 2 keeps the pickle reconstructors in numpy._core
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    import codecs
    # `getattr` rebuilds the bound statistics methods (``min``, ``mean``...) a HistoryBuffer
    # keeps; `codecs.encode` rebuilds numpy's byte buffers.
    allowed = [HistoryBuffer, np.dtype, np.ndarray, _reconstruct, scalar, codecs.encode, getattr]
    # the dtype classes (np.dtypes.Float64DType, ...) pickled with numpy scalars
    allowed.extend(type(np.dtype(code)) for code in '?bBhHiIlLqQefdgFDGSUVOMm')
    return allowed


def load_local_checkpoint(filename: str, map_location: Optional[str] = None) -> Any:
    """Load a local checkpoint with ``weights_only=True`` plus mmengine's own types."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(
            f'Checkpoint file "{filename}" does not exist: check the path given to '
            '--resume / load_from / pretrained.')
    with torch.serialization.safe_globals(mmengine_checkpoint_globals()):
        return torch.load(filename, map_location=map_location, weights_only=True)


def patch_mmengine_checkpoint_loading() -> None:
    """Register :func:`load_local_checkpoint` as mmengine's loader for local paths."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint, force=True)
