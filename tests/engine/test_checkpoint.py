"""Resume checkpoints load with torch >= 2.6's weights-only unpickler (no env variable)."""
import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import _load_checkpoint

import wsss_toolbox  # noqa: F401  (importing the package installs the loader)


def test_mmengine_state_round_trips(tmp_path):
    buffer = HistoryBuffer()
    buffer.update(np.float64(0.5))
    state = dict(state_dict={'w': torch.ones(2)},
                 message_hub=dict(log_scalars={'train/lr': buffer}, runtime_info={
                     'iter': np.int64(3), 'eta': np.float64(1.5)}))
    path = tmp_path / 'ckpt.pth'
    torch.save(state, path)
    loaded = _load_checkpoint(str(path), map_location='cpu')
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))
    assert loaded['message_hub']['log_scalars']['train/lr'].current() == 0.5
    assert loaded['message_hub']['runtime_info']['iter'] == 3


class _RunsCode:
    def __reduce__(self):
        return (os.system, ('echo should-not-run',))


def test_arbitrary_code_is_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'x': _RunsCode()}, path)
    with pytest.raises(pickle.UnpicklingError):
        _load_checkpoint(str(path), map_location='cpu')


def test_missing_checkpoint_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        _load_checkpoint(str(tmp_path / 'nope.pth'), map_location='cpu')
