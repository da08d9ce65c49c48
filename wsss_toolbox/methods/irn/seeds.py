"""IRN's seed labels (Ahn et al., CVPR 2019, Sec. 3.1 "inter-pixel relation labels"):
confident foreground and confident background regions of the maps, each cleaned by DenseCRF,
with an ignore zone between them.

For a threshold ``t`` the maps with a constant background score ``t`` are turned into a label
by argmax (background wins ties) and refined by DenseCRF. With the foreground threshold
(0.30) this gives the confident foreground; with the background threshold (0.05) a label in
which background means "no class reaches even 0.05". The seed keeps the foreground classes of
the first, background where the second says background, and ignore (255) elsewhere::

    seed = fg_label;  seed[fg_label == 0] = 255;  seed[(fg_label == 0) & (bg_label == 0)] = 0

This follows jiwoon-ahn/irn ``step/cam_to_ir_label.py`` L23-40 with the CRF of
``misc/imutils.py`` L156-170 (``crf_inference_label``), whose label set is background + every
class of the image (``crf_labels='image_classes'``, the default), whether the thresholded
label holds it or not; test_irn_authors_rules.py
``test_seed_label_against_the_authors_cam_to_ir_label`` transcribes those lines and
compares. ``crf_labels='present'`` gives the CRF only the labels the thresholded mask holds
(the other reading; an absent class changes the other labels' unary, and about
0.4 % of the pixels differ).

The seeds are made at the image size from the map files' ``maps`` (the authors make their
``ir_label`` PNGs from the full-resolution CAMs, ``cam_dict['high_res']``); the affinity
network reads them at its stride (4) when it forms pixel pairs (:mod:`.affinity`).
"""
from typing import Optional, Sequence

import numpy as np

from wsss_toolbox.pseudo_labels.crf import DenseCRFRefiner
from wsss_toolbox.pseudo_labels.generators import check_generator_inputs, scores_to_label
from wsss_toolbox.pseudo_labels.label_io import IGNORE_INDEX
from wsss_toolbox.registry import LABEL_GENERATORS
from wsss_toolbox.utils import check_choice

#: the label sets of the seed CRF (module docstring)
CRF_LABEL_SETS = ('image_classes', 'present')

#: the seed CRF of the authors' IRN code (jiwoon-ahn/irn misc/imutils.py L156-170): gt_prob
#: 0.7, 10 iterations, Gaussian (sxy 3, compat 3), bilateral (sxy 50, srgb 5, compat 10)
IRN_SEED_CRF = dict(iterations=10, gaussian_sxy=3.0, gaussian_compat=3.0, bilateral_sxy=50.0,
                    bilateral_srgb=5.0, bilateral_compat=10.0, gt_prob=0.7)


def threshold_label(maps: np.ndarray, classes: np.ndarray, bg_score: float) -> np.ndarray:
    """argmax of ``[bg_score, maps...]`` (background wins ties) as a uint8 label mask."""
    background = np.full((1, *maps.shape[1:]), bg_score, np.float32)
    return scores_to_label(np.concatenate([background, maps]), classes)


def make_seed_label(maps: np.ndarray, classes: Sequence[int], image: Optional[np.ndarray],
                    fg_threshold: float = 0.30, bg_threshold: float = 0.05,
                    crf: Optional[DenseCRFRefiner] = None,
                    crf_labels: str = 'image_classes') -> np.ndarray:
    """IRN seed label of one image (module docstring).

    Args:
        maps: (K, H, W) maps in [0, 1] of the image's classes.
        classes: (K,) foreground class indices.
        image: RGB uint8 (H, W, 3); needed unless ``crf`` is None.
        fg_threshold: background score of the confident-foreground label (IRN: 0.30).
        bg_threshold: background score of the confident-background label (IRN: 0.05).
        crf: the DenseCRF applied to both labels; None skips it.
        crf_labels: the CRF's labels: ``'image_classes'`` (background + every class of
            ``classes``, the authors') or ``'present'`` (those in the thresholded label).

    Returns:
        uint8 (H, W): 0 = confident background, ``k + 1`` = confident class ``k``,
        255 = not confident (ignored by the affinity labels).
    """
    maps, classes = check_generator_inputs(maps, classes, image)
    if not 0 <= bg_threshold <= fg_threshold <= 1:
        raise ValueError('IRN seeds need 0 <= bg_threshold <= fg_threshold <= 1, got '
                         f'bg_threshold={bg_threshold}, fg_threshold={fg_threshold}.')
    check_choice('IRN seeds: crf_labels', crf_labels, CRF_LABEL_SETS)
    fg_label = threshold_label(maps, classes, fg_threshold)
    bg_label = threshold_label(maps, classes, bg_threshold)
    if crf is not None:
        labels = None if crf_labels == 'present' else \
            np.concatenate([[0], np.asarray(classes, np.int64) + 1])
        fg_label, bg_label = crf(fg_label, image, labels), crf(bg_label, image, labels)
    seed = fg_label.copy()
    seed[fg_label == 0] = IGNORE_INDEX
    seed[(fg_label == 0) & (bg_label == 0)] = 0
    return seed


def has_confident_foreground(seed: np.ndarray) -> bool:
    """Whether a seed label has at least one confident foreground pixel."""
    seed = np.asarray(seed)
    return bool(np.any((seed > 0) & (seed != IGNORE_INDEX)))


@LABEL_GENERATORS.register_module()
class IRNSeedLabelGenerator:
    """IRN's seed labels as a label generator (:func:`make_seed_label`), so the core
    ``MakePseudoLabels`` runner (and ``tools/make_pseudo_labels.py``) can write them.

    Args:
        fg_threshold, bg_threshold: see :func:`make_seed_label` (IRN: 0.30 / 0.05).
        crf: ``DenseCRFRefiner`` arguments (default: the authors' seed CRF,
            :data:`IRN_SEED_CRF`), or None for no CRF.
        crf_labels: the CRF's label set, ``'image_classes'`` (the authors') or
            ``'present'`` (:func:`make_seed_label`).
    """
    needs_image = True
    needs_saliency = False

    def __init__(self, fg_threshold: float = 0.30, bg_threshold: float = 0.05,
                 crf: Optional[dict] = IRN_SEED_CRF,
                 crf_labels: str = 'image_classes') -> None:
        if not 0 <= bg_threshold <= fg_threshold <= 1:
            raise ValueError('IRNSeedLabelGenerator needs 0 <= bg_threshold <= fg_threshold '
                             f'<= 1, got bg_threshold={bg_threshold}, '
                             f'fg_threshold={fg_threshold}.')
        self.fg_threshold = float(fg_threshold)
        self.bg_threshold = float(bg_threshold)
        self.crf_labels = check_choice('IRNSeedLabelGenerator: crf_labels', crf_labels,
                                       CRF_LABEL_SETS)
        self.crf = None if crf is None else DenseCRFRefiner(**dict(crf))

    def __call__(self, maps: np.ndarray, classes: np.ndarray, image: np.ndarray = None,
                 saliency: np.ndarray = None) -> np.ndarray:
        if self.crf is not None and image is None:
            raise ValueError('IRNSeedLabelGenerator: the seed CRF needs the image.')
        return make_seed_label(maps, classes, image, self.fg_threshold, self.bg_threshold,
                               self.crf, self.crf_labels)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(fg_threshold={self.fg_threshold}, '
                f'bg_threshold={self.bg_threshold}, crf={self.crf!r}, '
                f'crf_labels={self.crf_labels!r})')
