"""DenseCRF wrapper: cleaning, ignore handling, label remapping, probabilities, errors."""
import numpy as np
import pytest

from wsss_toolbox.pseudo_labels import DenseCRFRefiner
from wsss_toolbox.registry import REFINERS

SIZE = 40


def two_colour_image() -> np.ndarray:
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    image[:, :SIZE // 2] = (220, 30, 30)
    image[:, SIZE // 2:] = (30, 30, 220)
    return image


def clean_label(left: int = 0, right: int = 15) -> np.ndarray:
    label = np.full((SIZE, SIZE), left, np.uint8)
    label[:, SIZE // 2:] = right
    return label


def noisy(label: np.ndarray, fraction: float = 0.1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    flip = rng.random(label.shape) < fraction
    values = np.unique(label)
    out = label.copy()
    out[flip] = np.where(label[flip] == values[0], values[1], values[0])
    return out


def test_noisy_two_region_label_is_cleaned():
    clean = clean_label()
    noisy_label = noisy(clean)
    assert (noisy_label != clean).sum() > 100
    refined = DenseCRFRefiner()(noisy_label, two_colour_image())
    assert refined.dtype == np.uint8 and refined.shape == clean.shape
    np.testing.assert_array_equal(refined, clean)  # labels 0 and 15 kept (compact remap)


def test_ignored_pixels_kept_or_filled():
    clean = clean_label(3, 7)
    label = noisy(clean, 0.05)
    label[5:15, 2:12] = 255
    kept = DenseCRFRefiner()(label, two_colour_image())
    assert (kept[5:15, 2:12] == 255).all()
    outside = np.ones(clean.shape, bool)
    outside[5:15, 2:12] = False
    np.testing.assert_array_equal(kept[outside], clean[outside])
    filled = DenseCRFRefiner(keep_ignore=False)(label, two_colour_image())
    np.testing.assert_array_equal(filled, clean)


@pytest.mark.parametrize('value', [255, 4])
def test_single_label_or_fully_ignored_mask_is_unchanged(value):
    label = np.full((SIZE, SIZE), value, np.uint8)
    label[:3, :3] = 255
    refined = DenseCRFRefiner(keep_ignore=False)(label, two_colour_image())
    np.testing.assert_array_equal(refined, label)


def test_image_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match='does not match the label mask'):
        DenseCRFRefiner()(clean_label(), two_colour_image()[:, :10])
    with pytest.raises(ValueError, match='uint8'):
        DenseCRFRefiner()(clean_label(), two_colour_image().astype(np.float32))


def test_refine_probs_cleans_noisy_probabilities():
    clean = clean_label(0, 1)
    rng = np.random.default_rng(1)
    foreground = np.where(noisy(clean, 0.15) == 1, 0.65, 0.35)
    foreground = np.clip(foreground + rng.normal(0, 0.05, foreground.shape), 0.01, 0.99)
    probs = np.stack([1 - foreground, foreground]).astype(np.float32)
    refiner = DenseCRFRefiner()
    refined = refiner.refine_probs(probs, two_colour_image())
    assert refined.dtype == np.uint8
    np.testing.assert_array_equal(refined, clean)
    remapped = refiner.refine_probs(probs, two_colour_image(), labels=np.array([0, 9]))
    np.testing.assert_array_equal(remapped, clean * 9)
    marginals = refiner.infer_probs(probs, two_colour_image())
    assert marginals.shape == (2, SIZE, SIZE)
    np.testing.assert_allclose(marginals.sum(axis=0), 1, atol=1e-4)


def test_registry_build_and_parameters():
    refiner = REFINERS.build(dict(type='DenseCRFRefiner', iterations=1, bilateral_sxy=80,
                                  bilateral_srgb=4, bilateral_compat=3, gaussian_sxy=3,
                                  gaussian_compat=1))
    assert refiner.iterations == 1 and refiner.needs_image
    with pytest.raises(ValueError, match='gt_prob'):
        DenseCRFRefiner(gt_prob=1.0)


def test_named_label_set_keeps_absent_labels_as_crf_labels():
    """``labels=``: every named label is a CRF label (IRN's seed CRF, jiwoon-ahn/irn
    misc/imutils.py L156-170, runs on background + all the image's classes); by hand with
    pydensecrf: n_labels = 3, the label indices as they are, no unsure pixels."""
    import pydensecrf.densecrf as dcrf
    from pydensecrf.utils import unary_from_labels
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (20, 20, 3)).astype(np.uint8)
    label = np.where(rng.random((20, 20)) < 0.8, 0, 3).astype(np.uint8)  # label 8: absent
    labels = np.array([0, 3, 8])
    crf = dcrf.DenseCRF2D(20, 20, 3)
    crf.setUnaryEnergy(unary_from_labels(np.searchsorted(labels, label), 3, gt_prob=0.7,
                                         zero_unsure=False))
    crf.addPairwiseGaussian(sxy=3, compat=3)
    crf.addPairwiseBilateral(sxy=50, srgb=5, rgbim=image, compat=10)
    expected = labels[np.argmax(np.array(crf.inference(10)).reshape(3, 20, 20), axis=0)]
    refiner = DenseCRFRefiner(gaussian_sxy=3, gaussian_compat=3, bilateral_sxy=50,
                              bilateral_srgb=5, bilateral_compat=10)
    np.testing.assert_array_equal(refiner(label, image, labels=[0, 3, 8]), expected)
    present_only = refiner(label, image)  # the default: labels 0 and 3 only
    assert (present_only != expected).any()
    with pytest.raises(ValueError, match=r'label\(s\) \[3\] that are not among'):
        refiner(label, image, labels=[0, 8])
