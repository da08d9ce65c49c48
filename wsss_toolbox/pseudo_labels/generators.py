"""Label generators: localization maps (+ image / saliency) -> pseudo-label mask.

Every generator is a pure callable registered in ``LABEL_GENERATORS``::

    label = generator(maps, classes, image=None, saliency=None)

* ``maps``: float (K, H, W) in [0, 1], ``maps[k]`` belongs to foreground class ``classes[k]``;
* ``classes``: int (K,) foreground class indices (0-based, background excluded);
* ``image``: RGB uint8 (H, W, 3) or None; ``saliency``: float (H, W) in [0, 1] or None;
* returns uint8 (H, W): 0 = background, ``k + 1`` = class ``k``, 255 = ignore.

Ties in an argmax go to the lowest channel, i.e. background wins a tie with a class.
Class attributes ``needs_image`` / ``needs_saliency`` tell the stage-2 runner what to load.
"""
import warnings
from typing import Any, Optional

import numpy as np

from wsss_toolbox.maps.normalize import normalize_maps
from wsss_toolbox.registry import LABEL_GENERATORS
from wsss_toolbox.utils import import_builtin_methods

from .label_io import IGNORE_INDEX

#: float saliency from a uint8 PNG is v / 255 in float32; thresholds are compared with this
#: slack so that e.g. ``saliency >= 32 / 255`` holds exactly for the pixels stored as 32
EPS_COMPARE = 1e-6


def require_saliency(generator: object, saliency: Optional[np.ndarray]) -> None:
    """Raise a clear error when a saliency-guided generator gets no saliency map."""
    if saliency is None:
        raise ValueError(f'{type(generator).__name__} needs a saliency map: give the dataset '
                         'a saliency folder so that samples carry `saliency_path`.')


def check_generator_inputs(maps: np.ndarray, classes: np.ndarray,
                           image: Optional[np.ndarray] = None,
                           saliency: Optional[np.ndarray] = None):
    """Validate shapes; return ``maps`` as float32 and ``classes`` as int64."""
    maps = np.asarray(maps, dtype=np.float32)
    classes = np.asarray(classes).astype(np.int64).reshape(-1)
    if maps.ndim != 3:
        raise ValueError(f'maps must be (K, H, W), got shape {maps.shape}.')
    if classes.shape[0] != maps.shape[0]:
        raise ValueError(f'{classes.shape[0]} classes for {maps.shape[0]} maps; '
                         'need one map per class.')
    if classes.size and (classes.min() < 0 or classes.max() >= IGNORE_INDEX - 1):
        raise ValueError(f'class indices must be in [0, {IGNORE_INDEX - 2}] so that label '
                         f'k + 1 fits in uint8 below the ignore value, got {classes.tolist()}.')
    height, width = maps.shape[1:]
    if image is not None and tuple(np.shape(image)) != (height, width, 3):
        raise ValueError(f'image has shape {np.shape(image)} but the maps are '
                         f'{height}x{width}; expected an RGB image of shape ({height}, '
                         f'{width}, 3) (maps are stored at the original image size).')
    if saliency is not None and tuple(np.shape(saliency)) != (height, width):
        raise ValueError(f'saliency has shape {np.shape(saliency)} but the maps are '
                         f'{height}x{width}; resize the saliency maps to the image size.')
    return maps, classes


def scores_to_label(scores: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Argmax over a (1 + K, H, W) score stack [background, maps...] -> uint8 label mask."""
    channel = scores.argmax(axis=0)
    lookup = np.concatenate([[0], classes + 1]).astype(np.uint8)
    return lookup[channel]


@LABEL_GENERATORS.register_module()
class ThresholdLabelGenerator:
    """Constant background score, argmax (IRN / SEAM style).

    label = argmax over [bg, A_1 .. A_K]; the background score ``bg`` is

    * ``bg_mode='constant'``: ``bg_threshold`` everywhere (a pixel is foreground iff its
      highest class score is strictly above the threshold);
    * ``bg_mode='power'``: ``(1 - max_c A_c) ** alpha`` (PSA / AffinityNet style).

    Args:
        bg_threshold: constant background score (``'constant'`` mode).
        bg_mode: ``'constant'`` or ``'power'``.
        alpha: exponent of the ``'power'`` mode.
        normalize: divide each class map by its maximum first.
        percentile: None (default), or p in (0, 100]: divide each class map by its p-th
            percentile over the image instead of its maximum and clip at 1, so the threshold
            is ``bg_threshold * per_p(A_c)`` (the LID 2020 track-3 winner's "percentile as
            a thresholding standard", Bae et al. 2020 Sec. 4.3). A map whose percentile is 0
            (zero on more than p % of the pixels) is divided by its maximum.
    """
    needs_image = False
    needs_saliency = False

    def __init__(self, bg_threshold: float = 0.3, bg_mode: str = 'constant',
                 alpha: float = 4.0, normalize: bool = True,
                 percentile: Optional[float] = None) -> None:
        if bg_mode not in ('constant', 'power'):
            raise ValueError(f'bg_mode must be "constant" or "power", got "{bg_mode}".')
        if percentile is not None and not 0.0 < float(percentile) <= 100.0:
            raise ValueError(f'percentile must be None or in (0, 100], got {percentile}.')
        self.bg_threshold = float(bg_threshold)
        self.bg_mode = bg_mode
        self.alpha = float(alpha)
        self.normalize = normalize
        self.percentile = None if percentile is None else float(percentile)

    def __call__(self, maps: np.ndarray, classes: np.ndarray,
                 image: Optional[np.ndarray] = None,
                 saliency: Optional[np.ndarray] = None) -> np.ndarray:
        maps, classes = check_generator_inputs(maps, classes, image, saliency)
        if self.percentile is not None:
            maps = percentile_normalize(maps, self.percentile)
        elif self.normalize:  # eps=0: every class map with a positive peak reaches 1
            maps = normalize_maps(maps, 'max', eps=0)
        if self.bg_mode == 'constant':
            background = np.full(maps.shape[1:], self.bg_threshold, np.float32)
        else:
            strongest = maps.max(axis=0) if maps.shape[0] else np.zeros(maps.shape[1:])
            background = np.power(1.0 - strongest, self.alpha).astype(np.float32)
        return scores_to_label(np.concatenate([background[None], maps]), classes)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(bg_threshold={self.bg_threshold}, '
                f'bg_mode={self.bg_mode!r}, alpha={self.alpha}, normalize={self.normalize}, '
                f'percentile={self.percentile})')


def percentile_normalize(maps: np.ndarray, percentile: float) -> np.ndarray:
    """Divide each (H, W) map of non-negative (K, H, W) ``maps`` by its ``percentile``-th
    percentile and clip at 1; a map whose percentile is 0 is divided by its maximum (an
    all-zero map stays 0)."""
    maps = np.asarray(maps, dtype=np.float32)
    if maps.shape[0] == 0:
        return maps
    flat = maps.reshape(maps.shape[0], -1)
    reference = np.percentile(flat, percentile, axis=1)
    reference = np.where(reference > 0, reference, flat.max(axis=1))
    reference = np.where(reference > 0, reference, 1.0).astype(np.float32)
    return np.minimum(maps / reference[:, None, None], 1.0)


@LABEL_GENERATORS.register_module()
class SaliencyLabelGenerator:
    """Attention for objects + saliency for background (OAA paper Sec. 4; PengtaoJiang/
    OAA-PyTorch ``gen_gt.py`` and GuoleiSun/MCIS_wsss ``Classifier/gen_gt.py``). Steps, in
    this order, on the score stack ``S`` of shape (1 + K, H, W):

    1. ``S_0 = 1 - saliency``; ``S_{k+1} = minmax(A_k)`` (per class, to [0, 1]).
    2. ``S[S < att_threshold] = 0`` on **every** channel, background included.
    3. label = argmax S (background wins ties, so a pixel where all channels were zeroed
       in step 2 is background).
    4. Conflict: pixels where at least 2 channels of the thresholded ``S`` (background
       included) are ``> conflict_threshold`` -> 255.
    5. Uncertain background: pixels labelled 0 after step 4 with
       ``saliency >= sal_ignore`` or any normalised class map ``> att_ignore`` -> 255.
    6. Too little foreground: if the pixels labelled ``1..254`` after step 5 are fewer than
       ``min_fg_ratio`` of the image, the whole mask becomes 255 (also when K = 0).

    Defaults are OAA's. MCIS uses ``conflict_threshold=0.99`` and ``att_ignore=0.95`` (other
    values equal). Saliency thresholds are compared with a 1e-6 slack so that
    ``sal_ignore=32/255`` matches a stored value of 32 exactly.

    Args:
        att_threshold: scores below it are zeroed (0.3).
        conflict_threshold: a pixel with >= 2 channels above it is ignored (OAA 0.9).
        sal_ignore: background pixels with saliency >= it are ignored (32/255).
        att_ignore: background pixels with a class map above it are ignored (OAA 0.8).
        min_fg_ratio: below this foreground fraction the whole image is ignored (0.01).
    """
    needs_image = False
    needs_saliency = True

    def __init__(self, att_threshold: float = 0.3, conflict_threshold: float = 0.9,
                 sal_ignore: float = 32 / 255, att_ignore: float = 0.8,
                 min_fg_ratio: float = 0.01) -> None:
        self.att_threshold = float(att_threshold)
        self.conflict_threshold = float(conflict_threshold)
        self.sal_ignore = float(sal_ignore)
        self.att_ignore = float(att_ignore)
        self.min_fg_ratio = float(min_fg_ratio)

    def __call__(self, maps: np.ndarray, classes: np.ndarray,
                 image: Optional[np.ndarray] = None,
                 saliency: Optional[np.ndarray] = None) -> np.ndarray:
        require_saliency(self, saliency)
        maps, classes = check_generator_inputs(maps, classes, image, saliency)
        saliency = np.asarray(saliency, dtype=np.float32)
        attention = normalize_maps(maps, 'minmax', eps=0)  # step 1
        scores = np.concatenate([(1.0 - saliency)[None], attention])
        scores[scores < self.att_threshold] = 0  # step 2
        label = scores_to_label(scores, classes)  # step 3
        confident_channels = (scores > self.conflict_threshold).sum(axis=0)
        label[confident_channels >= 2] = IGNORE_INDEX  # step 4
        strong_attention = (attention > self.att_ignore).any(axis=0)  # all False if K = 0
        unsure_bg = (label == 0) & ((saliency >= self.sal_ignore - EPS_COMPARE)
                                    | strong_attention)
        label[unsure_bg] = IGNORE_INDEX  # step 5
        foreground = np.count_nonzero((label > 0) & (label != IGNORE_INDEX))
        if foreground < self.min_fg_ratio * label.size:  # step 6
            label[:] = IGNORE_INDEX
        return label

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(att_threshold={self.att_threshold}, '
                f'conflict_threshold={self.conflict_threshold}, sal_ignore={self.sal_ignore:.4f}'
                f', att_ignore={self.att_ignore}, min_fg_ratio={self.min_fg_ratio})')


def __getattr__(name: str) -> Any:
    """``HarmonicLabelGenerator`` moved to SeeNet's method folder: the old name still resolves
    for one version, with a DeprecationWarning. The core names no method: the class is taken
    from ``LABEL_GENERATORS`` after the built-in methods are discovered (as
    ``register_all_modules`` does), on first access only, never at import time."""
    if name == 'HarmonicLabelGenerator':
        return _moved_harmonic_label_generator(stacklevel=3)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def _moved_harmonic_label_generator(stacklevel: int) -> type:
    """The moved class, after a DeprecationWarning naming its new import path."""
    warnings.warn(
        'HarmonicLabelGenerator (SeeNet, Algorithm 1) moved to SeeNet\'s method folder: '
        'import it with `from wsss_toolbox.methods.seenet import HarmonicLabelGenerator`; '
        'configs keep type=\'HarmonicLabelGenerator\' with custom_imports of that package. '
        'The import from wsss_toolbox.pseudo_labels will be removed in the next version.',
        DeprecationWarning, stacklevel=stacklevel)
    import_builtin_methods()
    return LABEL_GENERATORS.get('HarmonicLabelGenerator')
