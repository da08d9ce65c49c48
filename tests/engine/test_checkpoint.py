"""Checkpoints: resume checkpoints load with torch >= 2.6's weights-only unpickler (no env
variable); unreadable files and checkpoints of another model are errors naming the file; the
checkpoint to resume from is looked up inside the work dir."""
import logging
import os
import os.path as osp
import pickle
import shutil

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MMLogger
from mmengine.runner.checkpoint import _load_checkpoint

import wsss_toolbox  # noqa: F401  (importing the package installs the loader)
from wsss_toolbox.engine.checkpoint import (
    CheckpointError,
    UnsafeCheckpointError,
    check_checkpoint_fits,
    latest_checkpoint_in,
    load_model_checkpoint,
)


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


def test_refused_objects_name_the_file(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'x': _RunsCode()}, path)
    with pytest.raises(UnsafeCheckpointError, match=r'evil\.pth" holds Python objects .*'
                                                    r'GLOBAL posix\.system'):
        _load_checkpoint(str(path), map_location='cpu')


def _truncated(tmp_path):
    torch.save({'state_dict': {'w': torch.zeros(1000)}}, tmp_path / 'full.pth')
    return (tmp_path / 'full.pth').read_bytes()[:3000]


@pytest.mark.parametrize('content, detail', [
    (lambda tmp_path: np.random.default_rng(0).bytes(3000), 'UnpicklingError: Unsupported'),
    (lambda tmp_path: b'hello this is not a checkpoint\n', 'KeyError'),
    (lambda tmp_path: b'model = dict(type="X")\n', 'UnpicklingError: Unsupported'),  # a config
    (lambda tmp_path: b'', 'EOFError'),
    (_truncated, 'RuntimeError: PytorchStreamReader failed reading zip archive'),
])
def test_unreadable_files_name_the_file(tmp_path, content, detail):
    """Before: torch's message ("Weights only load failed ... Re-running `torch.load` with
    `weights_only` set to `False` will likely succeed"), a bare KeyError or EOFError."""
    path = tmp_path / 'weights.pth'
    path.write_bytes(content(tmp_path))
    with pytest.raises(CheckpointError) as error:
        _load_checkpoint(str(path), map_location='cpu')
    message = str(error.value)
    assert message.startswith(f'Checkpoint file "{path}" is unreadable: it is not a PyTorch '
                              'checkpoint, or it is truncated or corrupt')
    assert detail in message and 'weights_only' not in message


# ------------------------------------------------------------------ load_model_checkpoint
class _Net(torch.nn.Module):
    def __init__(self, width=4, classes=3):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, width, 3)
        self.bn = torch.nn.BatchNorm2d(width)
        self.fc = torch.nn.Linear(width, classes)


def _save(tmp_path, name, state_dict, **extra):
    path = str(tmp_path / name)
    torch.save(dict(state_dict=state_dict, **extra), path)
    return path


def test_load_model_checkpoint_loads_an_exact_match(tmp_path):
    source = _Net()
    # a DDP-saved checkpoint (module. prefix) loads too
    path = _save(tmp_path, 'net.pth', {f'module.{k}': v for k, v in source.state_dict().items()},
                 meta=dict(epoch=3))
    target = _Net()
    loaded = load_model_checkpoint(target, path)
    assert loaded['meta'] == dict(epoch=3)
    assert torch.equal(target.fc.weight, source.fc.weight)


@pytest.mark.parametrize('edit, lines', [
    (lambda sd: sd.pop('conv.weight'), ['1 weight(s) of the model are missing: conv.weight']),
    (lambda sd: sd.update(extra=torch.zeros(1)), ['1 weight(s) are not in the model: extra']),
    (lambda sd: sd.update(_Net(classes=5).state_dict()),
     ["2 weight(s) have another shape: fc.weight [5, 4] vs the model's [3, 4], "
      "fc.bias [5] vs the model's [3]"]),
])
def test_a_checkpoint_that_does_not_fit_is_an_error_naming_the_file(tmp_path, edit, lines):
    state_dict = _Net().state_dict()
    edit(state_dict)
    path = _save(tmp_path, 'other_model.pth', state_dict)
    target = _Net()
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(CheckpointError) as error:
        load_model_checkpoint(target, path, what='the model of my_config.py')
    message = str(error.value)
    assert message.startswith(f'Checkpoint file "{path}" does not fit the model of '
                              'my_config.py:')
    for line in lines:
        assert line in message
    assert '(--partial-load, strict=False)' in message
    for key, value in target.state_dict().items():  # nothing was loaded
        assert torch.equal(value, before[key])


def test_partial_load_keeps_what_does_not_fit_and_warns(tmp_path):
    source = _Net(classes=5)
    path = _save(tmp_path, 'five_classes.pth', source.state_dict())
    target = _Net()
    fc_before = target.fc.weight.clone()
    logger = MMLogger.get_current_instance()
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger.addHandler(handler)
    try:
        load_model_checkpoint(target, path, strict=False)
    finally:
        logger.removeHandler(handler)
    assert torch.equal(target.conv.weight, source.conv.weight)  # what fits is loaded
    assert torch.equal(target.fc.weight, fc_before)  # the rest keeps its initial values
    assert any('partial load of checkpoint' in m and 'five_classes.pth' in m and 'fc.weight'
               in m for m in messages)


def test_a_file_without_weights_is_an_error(tmp_path):
    path = tmp_path / 'tensor.pth'
    torch.save(torch.zeros(3), path)
    with pytest.raises(CheckpointError, match=r'tensor\.pth" holds a Tensor, not a checkpoint'):
        load_model_checkpoint(_Net(), str(path))
    path = tmp_path / 'numbers.pth'
    torch.save(dict(state_dict=dict(lr=0.1)), path)
    with pytest.raises(CheckpointError, match=r'numbers\.pth" has no weights'):
        load_model_checkpoint(_Net(), str(path))


# ------------------------------------------------------------------ latest_checkpoint_in
def _work_dir(folder, names):
    os.makedirs(folder, exist_ok=True)
    for name in names:
        torch.save({}, osp.join(folder, name))
    with open(osp.join(folder, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(folder, names[-1]))
    return str(folder)


def test_latest_checkpoint_in_a_copied_work_dir(tmp_path):
    original = _work_dir(tmp_path / 'original', ['iter_3.pth', 'iter_6.pth'])
    assert latest_checkpoint_in(original) == osp.join(original, 'iter_6.pth')
    copy = str(tmp_path / 'copy')
    shutil.copytree(original, copy)
    # last_checkpoint names the original's file: the copy's own is used
    assert latest_checkpoint_in(copy) == osp.join(copy, 'iter_6.pth')
    shutil.rmtree(original)
    assert latest_checkpoint_in(copy) == osp.join(copy, 'iter_6.pth')
    os.remove(osp.join(copy, 'iter_6.pth'))
    with pytest.raises(FileNotFoundError, match=r'names .*original/iter_6\.pth, outside this '
                                                r'work dir'):
        latest_checkpoint_in(copy)
    assert latest_checkpoint_in(str(tmp_path / 'empty')) is None


def test_check_checkpoint_fits_loads_nothing(tmp_path):
    """For checkpoints mmengine's runner loads itself, non-strictly (tools/test.py)."""
    from mmengine.model import BaseTTAModel
    good = _save(tmp_path, 'good.pth', _Net().state_dict())
    target = _Net()
    before = target.fc.weight.clone()
    assert 'state_dict' in check_checkpoint_fits(target, good)
    assert torch.equal(target.fc.weight, before)
    other = _save(tmp_path, 'five.pth', _Net(classes=5).state_dict())
    class _TTA(BaseTTAModel):
        def merge_preds(self, data_samples_list):
            return data_samples_list

    target.test_step = lambda data: data  # what BaseTTAModel asks of its module
    tta = _TTA(module=target)  # a test-time-augmentation wrapper is looked through
    with pytest.raises(CheckpointError, match=r'five\.pth" does not fit the model of x\.py:\n2 '
                                              r'weight\(s\) have another shape: fc\.weight'):
        check_checkpoint_fits(tta, other, what='the model of x.py')
