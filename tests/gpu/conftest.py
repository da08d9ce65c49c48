"""The device of the GPU tests (marker ``gpu``, registered in pytest.ini).

``tools/gpu_check.sh`` runs ``pytest -m gpu tests/gpu`` on a CUDA machine; without CUDA the
tests skip. ``WSSS_GPU_CHECK_DEVICE=cpu`` (the script's ``--cpu-rehearsal``) runs the same
tests on the CPU, so that their code is checked before GPU time is spent.
"""
import os

import pytest
import torch

DEVICE = os.environ.get('WSSS_GPU_CHECK_DEVICE', 'cuda')
ON_CUDA = DEVICE.startswith('cuda')
SKIP_REASON = (f'no CUDA device (torch {torch.__version__}); run `bash tools/gpu_check.sh OUT` '
               'on a CUDA machine, or set WSSS_GPU_CHECK_DEVICE=cpu to run these on the CPU')


@pytest.fixture
def device() -> str:
    """The device under test; skips the test when it is CUDA and torch sees none."""
    if ON_CUDA and not torch.cuda.is_available():
        pytest.skip(SKIP_REASON)
    return DEVICE
