"""OAA++'s attention drop layer (Jiang et al., TPAMI, Sec. 3.3, Algorithm 1).

:class:`AttentionDropHook`: with probability ``beta`` an image is fed with the pixels occluded
where its attention from the previous visit, ``A_{t-1}``, exceeds ``delta`` (union over the
image's ground-truth classes); the occluded pixels take the mean colour of the data
preprocessor (uint8-rounded, about 0 after normalisation; ``exact_fill=True``: exactly 0, as
the authors' code). The attention ``A_t`` of the (possibly occluded) input is then fused as
usual by :class:`~wsss_toolbox.methods.oaa.recorder.CumulativeMapRecorderHook` and becomes the
next previous map (by default; the authors' code reads each class's last *stored* map
instead, ``previous='stored'``, and unites per-class masks, ``mask='union'``).
"""
import zlib
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from wsss_toolbox.registry import HOOKS

from .export import feature_maps_to_image
from .recorder import CumulativeMapRecorderHook

DROP_MASKS = ('max', 'union')
DROP_PREVIOUS = ('last_visit', 'stored')


def attention_drop_mask(attention: np.ndarray, feature_stride: Sequence[float],
                        img_shape: Sequence[int], threshold: float,
                        mode: str = 'max') -> torch.Tensor:
    """Pixels of the input image to occlude.

    ``mode='max'``: ``upsample(max_c A^c) > threshold`` (one map, the maximum over the
    classes, upsampled then thresholded); ``mode='union'`` (authors' code): every class map is
    upsampled and thresholded on its own and the masks are united,
    ``OR_c (upsample(A^c) > threshold)``. The two differ where the bilinear upsampling of the
    maximum exceeds the maximum of the upsampled maps (between cells of different classes).

    Args:
        attention: (K, h, w) or (h, w) attention maps at feature resolution in [0, 1].
        feature_stride: input pixels per feature cell (s_h, s_w).
        img_shape: (H, W) of the input image (before batch padding).
        threshold: ``delta``.
        mode: ``'max'`` or ``'union'``.

    Returns:
        bool (H, W) mask.
    """
    if mode not in DROP_MASKS:
        raise ValueError(f'drop mask mode must be one of {DROP_MASKS}, got {mode!r}')
    attention = torch.as_tensor(np.asarray(attention, dtype=np.float32))
    if attention.dim() == 2:
        attention = attention[None]
    if mode == 'max':
        attention = attention.amax(dim=0, keepdim=True)
    upsampled = feature_maps_to_image(attention, feature_stride, img_shape, mode='bilinear')
    return (upsampled > threshold).any(dim=0)


def occlude(image: torch.Tensor, mask: torch.Tensor, fill: Sequence[float],
            exact: bool = False) -> torch.Tensor:
    """Set the masked pixels of a (3, H, W) image to ``fill`` (per channel).

    ``exact=False``: in place, the fill rounded to the image's integer colours (uint8
    input). ``exact=True``: the image is converted to float32 (a new tensor unless it already
    is float32) and takes the fill exactly, so that the data preprocessor normalises the
    occluded pixels to exactly 0 (authors' code) when ``fill`` is its mean.

    Returns:
        the occluded image (``image`` itself unless ``exact`` converted it).
    """
    fill_values = torch.as_tensor(fill, dtype=torch.float32)
    if exact:
        if image.dtype != torch.float32:
            image = image.float()
    else:
        fill_values = fill_values.round().clamp(0, 255)
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
    from its previous visit, the pixels where ``upsample(max_c A_{t-1}^c) > threshold``
    (``mask='max'``) or ``OR_c upsample(A_{t-1}^c) > threshold`` (``mask='union'``) are set
    to ``fill``. Images seen for the first time are never occluded.

    The previous attention comes from the :class:`CumulativeMapRecorderHook` of the same
    runner (which this hook asks to keep the last map of every image); it is the raw
    attention, not the cumulative map. ``previous='last_visit'`` (default) keeps the previous
    visit's map whether or not it passed the score condition (Algorithm 1: ``A_t`` becomes
    the next ``A_{t-1}``); ``previous='stored'`` keeps per class the last map the score
    condition accepted (the authors' per-class file).

    Args:
        drop_prob: ``beta``, probability to occlude an image (paper's best 0.5).
        threshold: ``delta``, attention above it is occluded (paper's best 0.6).
        fill: colour of the occluded pixels in the input's channel order (BGR for
            ``LoadImageFromFile``); default: the data preprocessor's mean.
        seed: base seed of the draws (default: the runner's seed).
        previous: which attention is occluded: ``'last_visit'`` (default; Algorithm 1's
            ``A_{t-1}``: the previous visit's map of every class, accepted or not) or
            ``'stored'`` (authors' code: per class, the map of the last visit at which the
            score condition accumulated it -- the per-class file their code writes; none in a
            skipped first epoch, never a last-epoch fill; a class without one drops nothing).
        mask: ``'max'`` (default: threshold the upsampled maximum over the classes) or
            ``'union'`` (authors' code: union of the per-class thresholded upsampled maps);
            see :func:`attention_drop_mask`.
        exact_fill: ``False`` (default): the fill colour rounded to uint8 (≈ 0 after
            normalisation); ``True`` (authors' code): occluded images become float32 with the
            exact fill, i.e. exactly 0 after normalisation.
    """

    priority = 'NORMAL'

    def __init__(self, drop_prob: float = 0.5, threshold: float = 0.6,
                 fill: Optional[Sequence[float]] = None, seed: Optional[int] = None,
                 previous: str = 'last_visit', mask: str = 'max',
                 exact_fill: bool = False) -> None:
        if previous not in DROP_PREVIOUS:
            raise ValueError(f'previous must be one of {DROP_PREVIOUS}, got {previous!r}')
        if mask not in DROP_MASKS:
            raise ValueError(f'mask must be one of {DROP_MASKS}, got {mask!r}')
        self.previous = previous
        self.mask = mask
        self.exact_fill = bool(exact_fill)
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
        self.recorder.enable_last_maps('stored' if self.previous == 'stored' else 'visit')
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
            inputs: list of (3, H, W) image tensors (or a (B, 3, H, W) tensor; with
                ``exact_fill`` a non-float32 tensor must be converted first, see
                :meth:`before_train_iter`).
            data_samples: their data samples (``img_id``).
            epoch: current epoch (seeds the draws).
        """
        store = self.recorder.store
        dropped = 0
        if self.exact_fill and isinstance(inputs, torch.Tensor) and \
                inputs.dtype != torch.float32:
            raise TypeError('exact_fill needs a list of images or a float32 batch tensor')
        for index, sample in enumerate(data_samples):
            img_id = str(sample.metainfo.get('img_id'))
            if not self.should_drop(img_id, epoch):
                continue
            previous = store.last_maps(img_id) if img_id in store else None
            if previous is None:
                continue
            image = inputs[index]
            mask = attention_drop_mask(previous, store.meta(img_id)['feature_stride'],
                                       image.shape[-2:], self.threshold, mode=self.mask)
            occluded = occlude(image, mask, self._fill, exact=self.exact_fill)
            if occluded is not image:
                inputs[index] = occluded
            dropped += 1
        return dropped

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if data_batch is None or self.drop_prob == 0:
            return
        inputs = data_batch['inputs']
        if self.exact_fill and isinstance(inputs, torch.Tensor) and \
                inputs.dtype != torch.float32:
            inputs = data_batch['inputs'] = inputs.float()
        dropped = self.drop_batch(inputs, data_batch['data_samples'], runner.epoch)
        runner.message_hub.update_scalar('train/attention_drop_images', dropped)
