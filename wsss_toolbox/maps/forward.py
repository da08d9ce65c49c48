"""How map inference runs the network: batches of views of one size, amp, channels-last.

Views of the same size go through ``model.test_step`` together, as batches of at most
``batch_pixels`` input pixels (by default 256 x 256 on the CPU, where large views gain nothing
from batching, 16 x 512 x 512 on a GPU). A batch therefore never pads a view (every view has
the size it would have alone, up to the model's own ``pad_size_divisor``): the maps equal those
of one forward per view (IRN's loop) up to float noise. A model whose head asks for it
(``model.head.needs_flip_pairs``) gets every view and its mirror in the same forward.

``amp`` runs the forwards under mmengine's ``autocast``; ``channels_last`` converts the model's
weights to the channels-last memory format (:func:`prepare_model`).
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.runner.amp import autocast

from wsss_toolbox.structures import WSSSDataSample

#: default input pixels per batched forward on a GPU (16 views of 512 x 512)
DEFAULT_BATCH_PIXELS = 16 * 512 * 512
#: ... and on the CPU, where a convolution is already compute-bound at one large view and
#: batching pays only for small views (measured on the tiny CAM model: 64 x 64 views 2.4x
#: faster in batches of 8, 256 x 256 views slower in batches of 4)
DEFAULT_CPU_BATCH_PIXELS = 256 * 256


def model_device_type(model: torch.nn.Module) -> str:
    """``'cuda'`` or ``'cpu'``: where the model's parameters are (no parameter: CPU)."""
    parameter = next(iter(model.parameters()), None) if hasattr(model, 'parameters') else None
    return 'cpu' if parameter is None else parameter.device.type


def default_batch_pixels(model: torch.nn.Module) -> int:
    """:data:`DEFAULT_CPU_BATCH_PIXELS` for a model on the CPU, else
    :data:`DEFAULT_BATCH_PIXELS`."""
    on_cpu = model_device_type(model) == 'cpu'
    return DEFAULT_CPU_BATCH_PIXELS if on_cpu else DEFAULT_BATCH_PIXELS


def model_needs_flip_pairs(model: torch.nn.Module) -> bool:
    """Whether ``model.head.needs_flip_pairs``: every view must share its forward with its
    mirror (e.g. RPNet's non-local blocks with the batch statistics of the pair)."""
    return bool(getattr(getattr(model, 'head', None), 'needs_flip_pairs', False))


def prepare_model(model: torch.nn.Module, channels_last: bool = False) -> None:
    """Put ``model`` in eval mode; ``channels_last``: convert its weights to the channels-last
    memory format in place (the convolutions then run channels-last)."""
    model.eval()
    if channels_last:
        model.to(memory_format=torch.channels_last)


def size_batches(shapes: Sequence[Tuple[int, int]], batch_pixels: int,
                 unit: int = 1) -> List[List[int]]:
    """Indices of ``shapes`` grouped by size, each group cut into batches of at most
    ``batch_pixels`` pixels (at least one view per batch); first-seen size first.

    ``unit=2``: batches hold whole pairs of consecutive same-size indices (a view and its
    mirror), at least one pair even beyond ``batch_pixels``."""
    by_size: Dict[Tuple[int, int], List[int]] = {}
    for index, shape in enumerate(shapes):
        by_size.setdefault(tuple(shape), []).append(index)
    batches = []
    for (height, width), indices in by_size.items():
        per_batch = max(1, int(batch_pixels) // max(1, height * width))
        per_batch = max(unit, per_batch - per_batch % unit)
        batches.extend(indices[start:start + per_batch]
                       for start in range(0, len(indices), per_batch))
    return batches


def run_test_step(model: torch.nn.Module, batch: dict, amp: bool = False) -> list:
    """``model.test_step(batch)``, with ``amp`` in mixed precision (mmengine's ``autocast``:
    float16 on a GPU, bfloat16 on the CPU; the maps are used as float32 afterwards)."""
    if not amp:
        return model.test_step(batch)
    with autocast(device_type=model_device_type(model), enabled=True):
        return model.test_step(batch)


def forward_same_size(model: torch.nn.Module, inputs: Sequence[torch.Tensor],
                      samples: Sequence[WSSSDataSample],
                      batch_pixels: Optional[int] = None, amp: bool = False,
                      unit: int = 1) -> list:
    """``model.test_step`` results of every view, in the order given; views of the same size
    share the forwards (:func:`size_batches`; ``batch_pixels`` None: by the device;
    ``unit=2``: a view and its mirror, consecutive, always share one)."""
    if batch_pixels is None:
        batch_pixels = default_batch_pixels(model)
    results = [None] * len(inputs)
    for indices in size_batches([tuple(view.shape[-2:]) for view in inputs], batch_pixels,
                                unit):
        outputs = run_test_step(model, dict(inputs=[inputs[i] for i in indices],
                                            data_samples=[samples[i] for i in indices]), amp)
        for index, output in zip(indices, outputs):
            results[index] = output
    return results
