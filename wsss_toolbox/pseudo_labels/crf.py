"""Fully connected CRF (Krähenbühl & Koltun 2011) refinement with ``pydensecrf``.

Energy: unary ``-log p(label)`` + Gaussian (position) kernel + bilateral (position, RGB)
kernel with Potts compatibilities, solved by ``iterations`` mean-field steps.

Default parameters are those of the deeplab-pytorch code used by OAA
(PengtaoJiang/OAA-PyTorch ``deeplab-pytorch/configs/voc12.yaml`` L52-58):
10 iterations, Gaussian ``sxy=1, compat=3``, bilateral ``sxy=67, srgb=3, compat=4``.
Other published settings, for configs:

* DeepLab-LargeFOV (the VOC settings of the DeepLab v1 release, Chen et al., ICLR 2015):
  Gaussian ``sxy=3, compat=3``; bilateral ``sxy=121, srgb=5, compat=4``; 10 iterations.
* MCIS test (GuoleiSun/MCIS_wsss ``segmentation/examples/seg/utils.py`` L51-58): 1 iteration;
  Gaussian ``sxy=3, compat=1``; bilateral ``sxy=80, srgb=4, compat=3``.
"""
from typing import Optional, Sequence

import numpy as np

from wsss_toolbox.registry import REFINERS

from .label_io import IGNORE_INDEX


def _import_densecrf():
    try:  # lazy: pydensecrf (optional, compiled) only when a CRF refiner runs
        import pydensecrf.densecrf as dcrf
        import pydensecrf.utils as crf_utils
    except ImportError as error:  # pragma: no cover - installed by `make setup`
        raise ImportError('DenseCRFRefiner needs pydensecrf: pip install pydensecrf2') from error
    return dcrf, crf_utils


@REFINERS.register_module()
class DenseCRFRefiner:
    """DenseCRF refinement of a label mask (``__call__``) or of class probabilities
    (:meth:`refine_probs`).

    Label refinement: by default only the labels present in the mask (255 excluded) are CRF
    labels, remapped to a compact index set; ``__call__(..., labels=...)`` names the CRF's
    label set instead (every one of them, present in the mask or not, as IRN's seed CRF,
    which runs on background + all the image's classes). Each labelled pixel gets probability
    ``gt_prob`` for its label and ``(1 - gt_prob) / (L - 1)`` for the other ``L - 1`` CRF
    labels; pixels that were 255 get a uniform unary ("unsure"), so the CRF may give them a
    label through the pairwise terms. The CRF relabels every pixel; with ``keep_ignore=True``
    (default) the pixels that were 255 stay 255. With fewer than two CRF labels the mask is
    returned unchanged (nothing to decide), and so is a wholly ignored mask.

    Args:
        iterations: mean-field iterations.
        gaussian_sxy, gaussian_compat: position kernel width (pixels) and weight.
        bilateral_sxy, bilateral_srgb, bilateral_compat: bilateral kernel position width,
            colour width (RGB units) and weight.
        gt_prob: confidence given to the input labels (0 < gt_prob < 1).
        keep_ignore: keep originally ignored pixels as 255 in the output.
        prob_clip: lower clip of probabilities before ``-log`` in :meth:`refine_probs`.
    """
    needs_image = True

    def __init__(self, iterations: int = 10, gaussian_sxy: float = 1.0,
                 gaussian_compat: float = 3.0, bilateral_sxy: float = 67.0,
                 bilateral_srgb: float = 3.0, bilateral_compat: float = 4.0,
                 gt_prob: float = 0.7, keep_ignore: bool = True,
                 prob_clip: float = 1e-5) -> None:
        if not 0 < gt_prob < 1:
            raise ValueError(f'gt_prob must be in (0, 1), got {gt_prob}.')
        if iterations < 1:
            raise ValueError(f'iterations must be >= 1, got {iterations}.')
        self.iterations = int(iterations)
        self.gaussian_sxy = float(gaussian_sxy)
        self.gaussian_compat = float(gaussian_compat)
        self.bilateral_sxy = float(bilateral_sxy)
        self.bilateral_srgb = float(bilateral_srgb)
        self.bilateral_compat = float(bilateral_compat)
        self.gt_prob = float(gt_prob)
        self.keep_ignore = keep_ignore
        self.prob_clip = float(prob_clip)

    @staticmethod
    def _check_image(image: np.ndarray, height: int, width: int, what: str) -> np.ndarray:
        image = np.asarray(image)
        if image.shape != (height, width, 3):
            raise ValueError(f'DenseCRFRefiner: image shape {image.shape} does not match the '
                             f'{what} ({height}x{width}); expected an RGB uint8 image of '
                             f'shape ({height}, {width}, 3).')
        if image.dtype != np.uint8:
            raise ValueError(f'DenseCRFRefiner: image must be uint8 RGB, got {image.dtype}.')
        return np.ascontiguousarray(image)

    def _mean_field(self, unary: np.ndarray, image: np.ndarray) -> np.ndarray:
        """Run the CRF on a (L, H*W) unary; return the (L, H, W) marginals."""
        dcrf, _ = _import_densecrf()
        height, width = image.shape[:2]
        num_labels = unary.shape[0]
        crf = dcrf.DenseCRF2D(width, height, num_labels)
        crf.setUnaryEnergy(np.ascontiguousarray(unary, dtype=np.float32))
        crf.addPairwiseGaussian(sxy=self.gaussian_sxy, compat=self.gaussian_compat)
        crf.addPairwiseBilateral(sxy=self.bilateral_sxy, srgb=self.bilateral_srgb,
                                 rgbim=image, compat=self.bilateral_compat)
        marginals = np.array(crf.inference(self.iterations), dtype=np.float32)
        return marginals.reshape(num_labels, height, width)

    def __call__(self, label: np.ndarray, image: np.ndarray,
                 labels: Optional[Sequence[int]] = None) -> np.ndarray:
        """Refine a uint8 HxW label mask with the RGB uint8 HxWx3 ``image``.

        Args:
            label: the mask (255 = ignored).
            image: RGB uint8 HxWx3.
            labels: the CRF's label values, all of them CRF labels whether the mask holds
                them or not (e.g. ``[0] + [k + 1 for k in classes]``, as jiwoon-ahn/irn
                ``misc/imutils.py`` L156-170 ``crf_inference_label`` with ``n_labels`` =
                K + 1); every non-ignored value of the mask must be among them. None
                (default): the labels present in the mask.
        """
        label = np.asarray(label)
        if label.ndim != 2:
            raise ValueError(f'DenseCRFRefiner: label must be HxW, got shape {label.shape}.')
        image = self._check_image(image, *label.shape, what='label mask')
        ignored = label == IGNORE_INDEX
        if labels is None:
            crf_labels = np.unique(label[~ignored])
        else:
            crf_labels = np.unique(np.asarray(labels, dtype=np.int64))
            if IGNORE_INDEX in crf_labels or crf_labels.min(initial=0) < 0:
                raise ValueError(f'DenseCRFRefiner: labels must be values in 0..254, got '
                                 f'{np.asarray(labels).tolist()}.')
            unknown = np.setdiff1d(np.unique(label[~ignored]), crf_labels)
            if len(unknown):
                raise ValueError(f'DenseCRFRefiner: the mask holds label(s) '
                                 f'{unknown.tolist()} that are not among labels='
                                 f'{crf_labels.tolist()}.')
        if len(crf_labels) < 2 or ignored.all():
            return label.astype(np.uint8, copy=True)
        _, crf_utils = _import_densecrf()
        # compact labels 1..L, 0 = unsure (uniform unary) for the ignored pixels
        compact = np.zeros(label.shape, np.int64)
        compact[~ignored] = np.searchsorted(crf_labels, label[~ignored]) + 1
        unary = crf_utils.unary_from_labels(compact, len(crf_labels), gt_prob=self.gt_prob,
                                            zero_unsure=True)
        marginals = self._mean_field(unary, image)
        refined = crf_labels[marginals.argmax(axis=0)].astype(np.uint8)
        if self.keep_ignore:
            refined[ignored] = IGNORE_INDEX
        return refined

    def infer_probs(self, probs: np.ndarray, image: np.ndarray) -> np.ndarray:
        """CRF marginals (L, H, W) float32 from softmax probabilities ``probs`` (L, H, W)."""
        probs = np.asarray(probs, dtype=np.float32)
        if probs.ndim != 3:
            raise ValueError(f'DenseCRFRefiner: probs must be (L, H, W), got {probs.shape}.')
        image = self._check_image(image, *probs.shape[1:], what='probabilities')
        if probs.shape[0] == 1:
            return np.ones_like(probs)
        unary = -np.log(np.clip(probs, self.prob_clip, 1.0)).reshape(probs.shape[0], -1)
        return self._mean_field(unary, image)

    def refine_probs(self, probs: np.ndarray, image: np.ndarray,
                     labels: Optional[np.ndarray] = None) -> np.ndarray:
        """Argmax of the CRF marginals of ``probs`` (L, H, W) as uint8 HxW.

        Args:
            probs: softmax probabilities, channel ``l`` = label ``l`` (or ``labels[l]``).
            image: RGB uint8 HxWx3.
            labels: optional (L,) label value of every channel (default ``0..L-1``).
        """
        marginals = self.infer_probs(probs, image)
        index = marginals.argmax(axis=0)
        if labels is None:
            if marginals.shape[0] > 256:
                raise ValueError(f'{marginals.shape[0]} channels do not fit in uint8 labels.')
            return index.astype(np.uint8)
        return np.asarray(labels, dtype=np.uint8)[index]

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(iterations={self.iterations}, '
                f'gaussian=(sxy={self.gaussian_sxy}, compat={self.gaussian_compat}), '
                f'bilateral=(sxy={self.bilateral_sxy}, srgb={self.bilateral_srgb}, '
                f'compat={self.bilateral_compat}), gt_prob={self.gt_prob}, '
                f'keep_ignore={self.keep_ignore})')
