"""The track-3 winner's percentile thresholding reference (Bae et al. 2020, Sec. 4.3): in the
label generator and in the LID IoU-threshold curve, against hand computations."""
import numpy as np
import pytest

from wsss_toolbox.evaluation import lid_iou_curve, scale_to_255
from wsss_toolbox.pseudo_labels.generators import ThresholdLabelGenerator, percentile_normalize


def test_scale_to_255_percentile_reference():
    values = np.arange(10, dtype=np.float64).reshape(2, 5)  # 0..9, median 4.5
    np.testing.assert_allclose(scale_to_255(values), values / 9 * 255)
    np.testing.assert_allclose(scale_to_255(values, 'percentile', 50),
                               np.clip(values / 4.5, 0, 1) * 255)
    # p = 100 is the min-max scaling; a percentile equal to the minimum falls back to the max
    np.testing.assert_allclose(scale_to_255(values + 3, 'percentile', 100), values / 9 * 255)
    sparse = np.array([[0.0, 0.0, 0.0, 8.0]])
    np.testing.assert_allclose(scale_to_255(sparse, 'percentile', 50), [[0, 0, 0, 255]])
    with pytest.raises(ValueError, match='reference'):
        scale_to_255(values, 'mean')
    with pytest.raises(ValueError, match='percentile'):
        scale_to_255(values, 'percentile', 0)


def test_lid_curve_with_percentile_reference():
    # map 0, 10, 20, 30 (p50 = 15): scaled 0, 170, 255, 255; GT foreground = last two
    curve = lid_iou_curve([np.array([[0, 10, 20, 30]])], [np.array([[0, 0, 1, 1]])],
                          reference='percentile', percentile=50)
    # t < 170: 3 predicted, IoU 2/3; 170 <= t < 255: exactly the GT, IoU 1; t = 255: 0
    assert curve['curve'][0] == pytest.approx(2 / 3)
    assert curve['curve'][169] == pytest.approx(2 / 3) and curve['curve'][170] == 1.0
    assert curve['curve'][254] == 1.0 and curve['curve'][255] == 0.0
    assert curve['peak_iou'] == 1.0 and curve['peak_threshold'] == 170
    plain = lid_iou_curve([np.array([[0, 10, 20, 30]])], [np.array([[0, 0, 1, 1]])])
    assert plain['peak_threshold'] == 85  # (20 / 30) * 255 = 170 > t >= 85


def test_percentile_normalize_and_generator_hand_computed():
    maps = np.array([[[0.0, 1.0, 2.0, 10.0]], [[0.0, 0.0, 0.0, 4.0]]], np.float32)
    # class map 0: p50 of (0, 1, 2, 10) = 1.5; class map 1: p50 = 0 -> divided by its max 4
    np.testing.assert_allclose(percentile_normalize(maps, 50),
                               [[[0, 1 / 1.5, 1, 1]], [[0, 0, 0, 1]]], rtol=1e-6)
    np.testing.assert_allclose(percentile_normalize(np.zeros((1, 2, 2)), 90), 0)
    classes = np.array([3, 5])
    generator = ThresholdLabelGenerator(bg_threshold=0.5, percentile=50)
    # scores: bg 0.5 | class 3: 0, .67, 1, 1 | class 5: 0, 0, 0, 1 (tie -> lowest channel)
    np.testing.assert_array_equal(generator(maps, classes), [[0, 4, 4, 4]])
    # a fraction of the max: class 3 is 0, .1, .2, 1 -> only the last pixel
    np.testing.assert_array_equal(ThresholdLabelGenerator(bg_threshold=0.5)(maps, classes),
                                  [[0, 0, 0, 4]])
    with pytest.raises(ValueError, match='percentile'):
        ThresholdLabelGenerator(percentile=150)
