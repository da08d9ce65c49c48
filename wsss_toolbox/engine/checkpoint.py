"""Make mmengine 0.10.7 checkpoints loadable on torch >= 2.6.

torch 2.6 changed ``torch.load``'s default to ``weights_only=True``. mmengine 0.10.7 calls
``torch.load(filename, map_location=...)`` and its resume checkpoints hold more than tensors
(the message hub's ``HistoryBuffer``, numpy scalars and dtypes), so ``--resume`` and
``load_from`` fail with an ``UnpicklingError`` (mmengine#1655, fixed on mmengine main only).

Instead of asking users for ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` we replace mmengine's
local-file loader through its own extension point (``CheckpointLoader.register_scheme``)
with one that keeps the ``weights_only=True`` unpickler and allows exactly the extra globals
mmengine writes into its checkpoints (checked by disassembling a resume checkpoint).

A file that cannot be read as a checkpoint (random bytes, a text or config file, a truncated
download) raises :class:`CheckpointError` naming the file, instead of torch's unpickling
message that suggests ``weights_only=False``; since the loader is mmengine's, this holds for
``--resume``, ``load_from``, ``tools/test.py`` and every ``load_checkpoint`` call.

:func:`load_model_checkpoint` is the one way the toolbox loads a checkpoint into a model
outside mmengine's runner (``tools/infer_maps.py``, :func:`wsss_toolbox.apis.init_classifier`,
the pipeline's ``InferMaps`` step): missing, unexpected or mis-shaped weights are an error
naming the file unless a partial load is asked for (``strict=False``).
:func:`check_checkpoint_fits` makes the same check for a checkpoint the runner loads itself
(non-strictly), as ``tools/test.py`` does before testing.
:func:`latest_checkpoint_in` finds the checkpoint to resume from inside a work dir.
"""
import codecs
import logging
import os.path as osp
import pickle
import re
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import HistoryBuffer, print_log
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.runner import find_latest_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint, _load_checkpoint_to_model

#: keys shown per kind of mismatch in an error message
_SHOWN_KEYS = 5


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read, or whose weights do not fit the model; the
    message names the file."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """A checkpoint that holds Python objects the weights-only unpickler refuses (it may run
    arbitrary code when unpickled)."""


def mmengine_checkpoint_globals() -> List[Any]:
    """The non-tensor types found in checkpoints saved by mmengine's runner."""
    try:  # numpy >= 2 keeps the pickle reconstructors in numpy._core
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    # `getattr` rebuilds the bound statistics methods (``min``, ``mean``...) a HistoryBuffer
    # keeps; `codecs.encode` rebuilds numpy's byte buffers.
    allowed = [HistoryBuffer, np.dtype, np.ndarray, _reconstruct, scalar, codecs.encode, getattr]
    # the dtype classes (np.dtypes.Float64DType, ...) pickled with numpy scalars
    allowed.extend(type(np.dtype(code)) for code in '?bBhHiIlLqQefdgFDGSUVOMm')
    return allowed


# torch's explanation around a weights-only unpickling error, which suggests
# ``weights_only=False``: dropped from our messages, the specific line is kept
_TORCH_BOILERPLATE = ('Weights only load failed', 'Please file an issue', 'Check the documentation')


def _detail(error: BaseException) -> str:
    """``Type: the specific part of the message`` (first sentence, torch's advice dropped)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(_TORCH_BOILERPLATE)]
    text = lines[0] if lines else 'no details'
    text = text.replace('WeightsUnpickler error:', '').strip() or 'no details'
    if '. ' in text:
        text = text[:text.index('. ') + 1]
    return f'{type(error).__name__}: {text}'


def load_local_checkpoint(filename: str, map_location: Optional[str] = None) -> Any:
    """Load a local checkpoint with ``weights_only=True`` plus mmengine's own types.

    Raises:
        FileNotFoundError: the file does not exist.
        UnsafeCheckpointError: the file holds objects the weights-only unpickler refuses.
        CheckpointError: the file cannot be read as a checkpoint (not a PyTorch checkpoint,
            truncated, corrupt) or torch cannot load it (e.g. CUDA tensors without CUDA).
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(
            f'Checkpoint file "{filename}" does not exist: check the path given to '
            '--resume / load_from / pretrained.')
    try:
        with torch.serialization.safe_globals(mmengine_checkpoint_globals()):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        refused = [line.strip() for line in str(error).splitlines() if 'GLOBAL' in line]
        if refused:
            raise UnsafeCheckpointError(
                f'Checkpoint file "{filename}" holds Python objects that the safe '
                f'(weights-only) loader refuses ({refused[0]}). Checkpoints saved by mmengine '
                'and wsss_toolbox never need them: check where the file comes from.'
            ) from error
        raise CheckpointError(_unreadable(filename, error)) from error
    except RuntimeError as error:
        if 'cuda' in str(error).lower() and 'zip archive' not in str(error):
            raise CheckpointError(f'Checkpoint file "{filename}" could not be loaded: '
                                  f'{error}') from error
        raise CheckpointError(_unreadable(filename, error)) from error
    except Exception as error:  # EOFError, KeyError, UnicodeDecodeError ... from garbage
        raise CheckpointError(_unreadable(filename, error)) from error


def _unreadable(filename: str, error: BaseException) -> str:
    return (f'Checkpoint file "{filename}" is unreadable: it is not a PyTorch checkpoint, or '
            f'it is truncated or corrupt ({_detail(error)}). Check the path (a config, log '
            'or image file given by mistake?), or save / copy the checkpoint again.')


def _revise(state_dict: dict, revise_keys: Sequence[Tuple[str, str]]) -> 'OrderedDict':
    for pattern, replacement in revise_keys:
        state_dict = OrderedDict((re.sub(pattern, replacement, key), value)
                                 for key, value in state_dict.items())
    return state_dict


def _listing(keys: Sequence[str]) -> str:
    shown = ', '.join(keys[:_SHOWN_KEYS])
    return shown + (f' and {len(keys) - _SHOWN_KEYS} more' if len(keys) > _SHOWN_KEYS else '')


def checkpoint_mismatch(model: torch.nn.Module, state_dict: Dict[str, Any]) -> Dict[str, list]:
    """How ``state_dict`` differs from ``model``'s: ``missing`` (model keys it lacks; BN
    ``num_batches_tracked`` ignored, as mmengine does), ``unexpected`` (keys the model does
    not have) and ``shape`` (``(key, checkpoint shape, model shape)``)."""
    if is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    own = model.state_dict()
    missing = [key for key in own
               if key not in state_dict and 'num_batches_tracked' not in key]
    unexpected = [key for key in state_dict if key not in own]
    shape = [(key, tuple(getattr(value, 'shape', ())), tuple(own[key].shape))
             for key, value in state_dict.items()
             if key in own and tuple(getattr(value, 'shape', ())) != tuple(own[key].shape)]
    return dict(missing=missing, unexpected=unexpected, shape=shape)


def describe_mismatch(mismatch: Dict[str, list]) -> str:
    """One line per kind of mismatch (empty when the weights fit)."""
    lines = []
    if mismatch['missing']:
        lines.append(f'{len(mismatch["missing"])} weight(s) of the model are missing: '
                     f'{_listing(mismatch["missing"])}')
    if mismatch['unexpected']:
        lines.append(f'{len(mismatch["unexpected"])} weight(s) are not in the model: '
                     f'{_listing(mismatch["unexpected"])}')
    if mismatch['shape']:
        shown = [f'{key} {list(theirs)} vs the model\'s {list(ours)}'
                 for key, theirs, ours in mismatch['shape']]
        lines.append(f'{len(shown)} weight(s) have another shape: {_listing(shown)}')
    return '\n'.join(lines)


def _checkpoint_weights(filename: str, map_location: str,
                        revise_keys: Sequence[Tuple[str, str]]) -> Tuple[dict, 'OrderedDict']:
    """``(checkpoint dict, its state dict with revised keys)``; errors name the file."""
    checkpoint = _load_checkpoint(filename, map_location=map_location)
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f'Checkpoint file "{filename}" holds a '
                              f'{type(checkpoint).__name__}, not a checkpoint (a dict of '
                              'weights, or a dict with a "state_dict").')
    state_dict = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state_dict, dict) or not all(
            isinstance(value, torch.Tensor) for value in state_dict.values()):
        raise CheckpointError(f'Checkpoint file "{filename}" has no weights: its '
                              '"state_dict" (or the file itself) must map names to tensors.')
    return checkpoint, _revise(state_dict, revise_keys)


def _mismatch_error(filename: str, what: str, problems: str) -> CheckpointError:
    return CheckpointError(
        f'Checkpoint file "{filename}" does not fit {what}:\n{problems}\nIt was probably '
        'saved from another architecture or config (backbone, channels, number of '
        'classes). Use the checkpoint trained with this config; to load only the weights '
        'that fit and keep the others at their initial values, ask for a partial load '
        '(--partial-load, strict=False).')


def check_checkpoint_fits(model: torch.nn.Module, filename: str, what: Optional[str] = None,
                          map_location: str = 'cpu',
                          revise_keys: Sequence[Tuple[str, str]] = ((r'^module\.', ''), ),
                          ) -> dict:
    """Raise :class:`CheckpointError` naming the file when its weights are not exactly
    ``model``'s (missing, unexpected, other shapes); load nothing. For the checkpoints that
    mmengine's runner loads itself, non-strictly (``load_from`` of ``tools/test.py``).
    Returns the checkpoint dict."""
    checkpoint, state_dict = _checkpoint_weights(filename, map_location, revise_keys)
    problems = describe_mismatch(checkpoint_mismatch(model, state_dict))
    if problems:
        raise _mismatch_error(filename, what or f'the {type(model).__name__} model', problems)
    return checkpoint


def load_model_checkpoint(model: torch.nn.Module, filename: str, strict: bool = True,
                          map_location: str = 'cpu', what: Optional[str] = None,
                          revise_keys: Sequence[Tuple[str, str]] = ((r'^module\.', ''), ),
                          ) -> dict:
    """Load the weights of a checkpoint file into ``model``; the toolbox's one code path.

    Args:
        model: the model (a DDP / TTA wrapper is unwrapped).
        filename: the checkpoint (any scheme mmengine's ``CheckpointLoader`` knows).
        strict: the checkpoint must hold exactly the model's weights, with the model's shapes;
            otherwise :class:`CheckpointError` names the file and lists the differences.
            ``False`` is a partial load: the weights that fit are loaded, the others keep
            their initial values, and a warning lists them.
        map_location: where tensors are loaded.
        what: the model's origin for messages, e.g. ``'the model of configs/x.py'``.
        revise_keys: ``(pattern, replacement)`` applied to the checkpoint's keys (default:
            drop a DDP ``module.`` prefix), as mmengine's ``load_checkpoint``.

    Returns:
        The checkpoint dict (``state_dict``, ``meta`` ...).
    """
    what = what or f'the {type(model).__name__} model'
    checkpoint, state_dict = _checkpoint_weights(filename, map_location, revise_keys)
    problems = describe_mismatch(checkpoint_mismatch(model, state_dict))
    if problems and strict:
        raise _mismatch_error(filename, what, problems)
    if problems:
        print_log(f'partial load of checkpoint "{filename}" into {what} (strict=False); the '
                  f'weights below keep their initial values:\n{problems}', logger='current',
                  level=logging.WARNING)
    _load_checkpoint_to_model(model, dict(state_dict=state_dict), strict=False,
                              logger='silent', revise_keys=())
    return checkpoint


def latest_checkpoint_in(work_dir: str) -> Optional[str]:
    """The newest checkpoint of an mmengine work dir, looked up inside that folder.

    mmengine's ``last_checkpoint`` file holds an absolute path; in a copied or moved work dir
    it points at the original, so the file name is taken relative to ``work_dir`` instead
    (with a warning); a name that does not exist inside ``work_dir`` is an error.
    """
    found = find_latest_checkpoint(work_dir)
    if found is None:
        return None
    inside = osp.join(work_dir, osp.basename(found))
    if osp.abspath(osp.dirname(found)) != osp.abspath(work_dir):
        if not osp.isfile(inside):
            raise FileNotFoundError(
                f'{osp.join(work_dir, "last_checkpoint")} names {found}, outside this work dir, '
                f'and {inside} does not exist; delete last_checkpoint to start afresh.')
        print_log(f'{work_dir}/last_checkpoint names {found} (another work dir); using '
                  f'{inside}', logger='current', level=logging.WARNING)
    return inside


def patch_mmengine_checkpoint_loading() -> None:
    """Register :func:`load_local_checkpoint` as mmengine's loader for local paths."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint, force=True)
