"""OAA++'s attention drop layer (Jiang et al., TPAMI, Sec. 3.3, Algorithm 1; spec ``oaa.md`` §2).

With probability ``beta`` an image is fed with the pixels occluded where its attention from
the previous visit, ``A_{t-1}``, exceeds ``delta`` (union over the image's ground-truth
classes); the occluded pixels take the mean colour of the data preprocessor, i.e. they are 0
after normalisation (authors' code). The attention ``A_t`` of the (possibly occluded) input is
then fused as usual by :class:`CumulativeMapRecorderHook` and becomes the next previous map.
"""
import zlib
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from wsss_toolbox.maps.store import feature_maps_to_image
from wsss_toolbox.registry import HOOKS
from .cumulative_map_recorder import CumulativeMapRecorderHook


def attention_drop_mask(attention: np.ndarray, feature_stride: Sequence[float],
                        img_shape: Sequence[int], threshold: float) -> torch.Tensor:
    """Pixels of the input image to occlude: ``upsample(max_c A^c) > threshold``.

    Args:
        attention: (K, h, w) or (h, w) attention maps at feature resolution in [0, 1].
        feature_stride: input pixels per feature cell (s_h, s_w).
        img_shape: (H, W) of the input image (before batch padding).
        threshold: ``delta``.

    Returns:
        bool (H, W) mask.
    """
    attention = torch.as_tensor(np.asarray(attention, dtype=np.float32))
    if attention.dim() == 2:
        attention = attention[None]
    union = attention.amax(dim=0, keepdim=True)  # union of the class masks = max of the maps
    upsampled = feature_maps_to_image(union, feature_stride, img_shape, mode='bilinear')[0]
    return upsampled > threshold


def occlude(image: torch.Tensor, mask: torch.Tensor, fill: Sequence[float]) -> torch.Tensor:
    """Set the masked pixels of a (3, H, W) image to ``fill`` (per channel), in place."""
    fill_values = torch.as_tensor(fill, dtype=torch.float32).round().clamp(0, 255)
    for channel in range(image.shape[0]):
        image[channel][mask] = fill_values[channel].to(image.dtype)
    return image


def preprocessor_fill(model) -> Tuple[float, ...]:
    """Per-channel colour (input channel order) that the model's ``ImgDataPreprocessor``
    normalises to 0: its mean, reversed when it converts BGR <-> RGB."""
    preprocessor = getattr(model, 'data_preprocessor', None)
    mean = getattr(preprocessor, 'mean', None)
    if mean is None or not getattr(preprocessor, '_enable_normalize', True):
        return (0.0, 0.0, 0.0)
    values = [float(v) for v in mean.flatten().tolist()]
    if getattr(preprocessor, '_channel_conversion', False):
        values = values[::-1]
    return tuple(values)


@HOOKS.register_module()
class AttentionDropHook(Hook):
    """Occlude high-attention pixels of the training inputs (OAA++, Algorithm 1).

    In ``before_train_iter`` (before the data preprocessor) every image of the batch draws
    ``r ~ U(0, 1)`` from a generator seeded with ``(seed, epoch, img_id)`` (reproducible, and
    the same on every rank); if ``r < drop_prob`` and the recorder knows the image's attention
    from its previous visit, the pixels where ``max_c A_{t-1}^c > threshold`` are set to
    ``fill``. Images seen for the first time are never occluded.

    The previous attention comes from the :class:`CumulativeMapRecorderHook` of the same
    runner (which this hook asks to keep the last map of every image); it is the raw
    attention of the previous visit, not the cumulative map, and is kept whether or not that
    map passed the score condition (Algorithm 1: ``A_t`` becomes the next ``A_{t-1}``).

    Args:
        drop_prob: ``beta``, probability to occlude an image (paper's best 0.5).
        threshold: ``delta``, attention above it is occluded (paper's best 0.6).
        fill: colour of the occluded pixels in the input's channel order (BGR for
            ``LoadImageFromFile``); default: the data preprocessor's mean.
        seed: base seed of the draws (default: the runner's seed).
    """

    priority = 'NORMAL'

    def __init__(self, drop_prob: float = 0.5, threshold: float = 0.6,
                 fill: Optional[Sequence[float]] = None, seed: Optional[int] = None) -> None:
        if not 0 <= drop_prob <= 1:
            raise ValueError(f'drop_prob (beta) must be in [0, 1], got {drop_prob}')
        if not 0 <= threshold <= 1:
            raise ValueError(f'threshold (delta) must be in [0, 1], got {threshold}')
        self.drop_prob = float(drop_prob)
        self.threshold = float(threshold)
        self.fill = None if fill is None else tuple(float(v) for v in fill)
        self.seed = seed
        self.recorder: Optional[CumulativeMapRecorderHook] = None
        self._fill: Tuple[float, ...] = (0.0, 0.0, 0.0)
        self._seed = 0

    def before_run(self, runner) -> None:
        recorders = [hook for hook in runner.hooks
                     if isinstance(hook, CumulativeMapRecorderHook)]
        if not recorders:
            raise RuntimeError('AttentionDropHook needs a CumulativeMapRecorderHook in '
                               'custom_hooks: it occludes the attention the recorder saw at '
                               "the image's previous visit")
        self.recorder = recorders[0]
        self.recorder.enable_last_maps()
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self._fill = self.fill if self.fill is not None else preprocessor_fill(model)
        self._seed = int(self.seed if self.seed is not None else (runner.seed or 0))

    def should_drop(self, img_id: str, epoch: int) -> bool:
        """``r < beta`` for ``r`` drawn from the generator of ``(seed, epoch, img_id)``."""
        key = zlib.crc32(str(img_id).encode('utf-8'))
        rng = np.random.default_rng([self._seed & 0xFFFFFFFF, int(epoch), key])
        return bool(rng.random() < self.drop_prob)

    def drop_batch(self, inputs, data_samples, epoch: int) -> int:
        """Occlude the inputs of one batch in place; return how many images were occluded.

        Args:
            inputs: list of (3, H, W) image tensors (or a (B, 3, H, W) tensor).
            data_samples: their data samples (``img_id``).
            epoch: current epoch (seeds the draws).
        """
        store = self.recorder.store
        dropped = 0
        for index, sample in enumerate(data_samples):
            img_id = str(sample.metainfo.get('img_id'))
            if not self.should_drop(img_id, epoch):
                continue
            previous = store.last_maps(img_id) if img_id in store else None
            if previous is None:
                continue
            image = inputs[index]
            mask = attention_drop_mask(previous, store.meta(img_id)['feature_stride'],
                                       image.shape[-2:], self.threshold)
            occlude(image, mask, self._fill)
            dropped += 1
        return dropped

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if data_batch is None or self.drop_prob == 0:
            return
        dropped = self.drop_batch(data_batch['inputs'], data_batch['data_samples'],
                                  runner.epoch)
        runner.message_hub.update_scalar('train/attention_drop_images', dropped)
