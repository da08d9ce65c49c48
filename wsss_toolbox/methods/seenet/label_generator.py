"""SeeNet's proxy ground truth: Algorithm 1 of Hou et al., NeurIPS 2018 (Sec. 4), the harmonic
mean of attention and saliency with ``1 - D`` as the background score.

Registered in ``LABEL_GENERATORS`` as ``'HarmonicLabelGenerator'`` when the method package is
imported (the configs' ``custom_imports``); it uses the core's generator helpers (input
checks, saliency check, argmax to a label mask).
"""
from typing import Optional

import numpy as np

from wsss_toolbox.maps.normalize import normalize_maps
from wsss_toolbox.pseudo_labels.generators import (
    EPS_COMPARE,
    check_generator_inputs,
    require_saliency,
    scores_to_label,
)
from wsss_toolbox.registry import LABEL_GENERATORS


@LABEL_GENERATORS.register_module()
class HarmonicLabelGenerator:
    """SeeNet proxy ground truth (SeeNet paper Algorithm 1, Sec. 4).

    ``Q_0 = 1 - D`` (line 5); for every image class c (line 7, Eq. 3):
    ``Q_c = (w + 1) / (w / A_c + 1 / D)`` ``= (w + 1) A_c D / (w D + A_c)`` (0 where ``A_c``
    or ``D`` is 0); label = argmax over {0} ∪ image classes (line 10; background wins ties,
    and classes without a map never vote). ``D`` is the saliency map in [0, 1] (a uint8 PNG
    divided by 255, as the runner loads it); values outside [0, 1] are an error, since
    ``1 - D`` would no longer be a probability.

    Args:
        w: weight of the attention term (1 gives the harmonic mean ``2AD / (A + D)``).
        eps: added to the denominator for numerical safety.
        normalize: divide each class map by its maximum first (SeeNet's maps are
            ReLU-then-divide-by-max normalised).
    """
    needs_image = False
    needs_saliency = True

    def __init__(self, w: float = 1.0, eps: float = 1e-8, normalize: bool = True) -> None:
        if w <= 0:
            raise ValueError(f'w must be > 0, got {w}.')
        self.w = float(w)
        self.eps = float(eps)
        self.normalize = normalize

    def __call__(self, maps: np.ndarray, classes: np.ndarray,
                 image: Optional[np.ndarray] = None,
                 saliency: Optional[np.ndarray] = None) -> np.ndarray:
        require_saliency(self, saliency)
        maps, classes = check_generator_inputs(maps, classes, image, saliency)
        if self.normalize:
            maps = normalize_maps(maps, 'max', eps=0)
        saliency = np.asarray(saliency, dtype=np.float32)[None]
        if saliency.size and (saliency.min() < 0 or saliency.max() > 1 + EPS_COMPARE
                              or not np.isfinite(saliency).all()):
            raise ValueError(
                f'{type(self).__name__}: the saliency map D must hold values in [0, 1] '
                f'(Algorithm 1 uses 1 - D as the background probability), got '
                f'[{saliency.min():g}, {saliency.max():g}]; divide a uint8 saliency map by '
                '255 (wsss_toolbox.pseudo_labels.label_io.load_saliency does).')
        harmonic = (self.w + 1) * maps * saliency / (self.w * saliency + maps + self.eps)
        harmonic[(maps <= 0) | np.broadcast_to(saliency <= 0, maps.shape)] = 0
        return scores_to_label(np.concatenate([1.0 - saliency, harmonic]), classes)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(w={self.w}, eps={self.eps}, '
                f'normalize={self.normalize})')
