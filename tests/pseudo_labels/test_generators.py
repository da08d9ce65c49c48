"""Label generators on hand-computed 1-row examples, one rule at a time."""
import numpy as np
import pytest

from wsss_toolbox.pseudo_labels import SaliencyLabelGenerator, ThresholdLabelGenerator
from wsss_toolbox.registry import LABEL_GENERATORS


def row(*values) -> np.ndarray:
    """A 1xN float32 image row."""
    return np.array([values], np.float32)


def stack(*rows) -> np.ndarray:
    return np.stack(rows)


# ---------------------------------------------------------------- threshold (IRN / SEAM)
def test_threshold_constant_background():
    maps = stack(row(0.1, 0.5, 0.2, 0.3), row(0.2, 0.4, 0.6, 0.3))
    generator = ThresholdLabelGenerator(bg_threshold=0.3, normalize=False)
    label = generator(maps, np.array([2, 5]))
    assert label.dtype == np.uint8 and label.shape == (1, 4)
    # px0 all below 0.3 -> bg; px1 class 2 -> 3; px2 class 5 -> 6; px3 tie at 0.3 -> bg
    assert label.tolist() == [[0, 3, 6, 0]]


def test_threshold_normalises_each_class_by_its_max():
    maps = stack(row(0.1, 0.5, 0.2, 0.3), row(0.2, 0.4, 0.6, 0.3))
    # /max: class 2 -> [.2, 1, .4, .6], class 5 -> [.33, .67, 1, .5]
    label = ThresholdLabelGenerator(bg_threshold=0.3)(maps, np.array([2, 5]))
    assert label.tolist() == [[6, 3, 6, 3]]


def test_threshold_power_background():
    maps = stack(row(0.1, 0.5, 0.2, 0.3), row(0.2, 0.4, 0.6, 0.3))
    generator = ThresholdLabelGenerator(bg_mode='power', alpha=2, normalize=False)
    # bg = (1 - max)^2 = [.64, .25, .16, .49]
    assert generator(maps, np.array([2, 5])).tolist() == [[0, 3, 6, 0]]


def test_threshold_without_classes_is_background():
    label = ThresholdLabelGenerator()(np.zeros((0, 2, 3)), np.zeros(0, np.int64))
    assert label.shape == (2, 3) and not label.any()


def test_threshold_rejects_mismatched_image():
    with pytest.raises(ValueError, match='image has shape'):
        ThresholdLabelGenerator()(np.zeros((1, 2, 3)), np.array([0]),
                                  image=np.zeros((3, 2, 3), np.uint8))


# ---------------------------------------------------------------- saliency (OAA / MCIS)
DISABLED = dict(conflict_threshold=1.01, sal_ignore=1.01, att_ignore=1.01, min_fg_ratio=0)


def test_saliency_argmax_with_min_max_normalisation():
    # class 0 raw [0, 2, 4, 1] -> [0, .5, 1, .25]; class 3 raw [1, 1, 3, 5] -> [0, 0, .5, 1]
    maps = stack(row(0, 2, 4, 1), row(1, 1, 3, 5))
    saliency = row(0.0, 0.2, 0.9, 0.95)  # bg = [1, .8, .1, .05] -> [1, .8, 0, 0]
    label = SaliencyLabelGenerator(**DISABLED)(maps, np.array([0, 3]), saliency=saliency)
    assert label.tolist() == [[0, 0, 1, 4]]


def test_saliency_scores_below_att_threshold_are_zeroed_on_every_channel():
    maps = stack(row(0.0, 0.25, 1.0))
    saliency = row(0.9, 0.8, 0.9)  # bg [.1, .2, .1]: all below 0.3 as is class px1 (.25)
    generator = SaliencyLabelGenerator(**DISABLED)
    # px1 would be class 0 (0.25 > 0.2) without step 2; all-zero scores go to background
    assert generator(maps, np.array([0]), saliency=saliency).tolist() == [[0, 0, 1]]
    no_threshold = SaliencyLabelGenerator(att_threshold=0.0, **DISABLED)
    assert no_threshold(maps, np.array([0]), saliency=saliency).tolist() == [[0, 1, 1]]


def test_saliency_conflict_rule_oaa_and_mcis_values():
    maps = stack(row(0, 1, 0.95, 0.95, 0.9), row(1, 0, 0.95, 0.5, 0.9))
    saliency = row(1, 1, 1, 0, 1)  # bg = [0, 0, 0, 1, 0]
    keep = dict(sal_ignore=1.01, att_ignore=1.01, min_fg_ratio=0)
    oaa = SaliencyLabelGenerator(conflict_threshold=0.9, **keep)
    # px2: two classes > .9; px3: background (1) and a class (.95) > .9; px4: .9 is not > .9
    assert oaa(maps, np.array([0, 1]), saliency=saliency).tolist() == [[2, 1, 255, 255, 1]]
    mcis = SaliencyLabelGenerator(conflict_threshold=0.99, **keep)
    assert mcis(maps, np.array([0, 1]), saliency=saliency).tolist() == [[2, 1, 1, 0, 1]]


def test_saliency_uncertain_background_rule():
    maps = stack(row(1.0, 0.0, 0.0, 0.85, 0.75))
    saliency = np.array([255, 31, 32, 0, 0], np.float32) / 255
    generator = SaliencyLabelGenerator(min_fg_ratio=0)
    # px0 fg (untouched by the bg rule); px1 bg, saliency 31 < 32; px2 bg with saliency 32;
    # px3 bg with attention .85 > .8; px4 bg, attention .75
    label = generator(maps, np.array([0]), saliency=saliency[None])
    assert label.tolist() == [[1, 0, 255, 255, 0]]
    mcis = SaliencyLabelGenerator(att_ignore=0.95, min_fg_ratio=0)
    assert mcis(maps, np.array([0]), saliency=saliency[None]).tolist() == [[1, 0, 255, 0, 0]]


@pytest.mark.parametrize('num_fg, expect_kept', [(1, False), (2, True)])
def test_saliency_too_little_foreground_ignores_the_image(num_fg, expect_kept):
    maps = np.zeros((1, 10, 20), np.float32)
    saliency = np.zeros((10, 20), np.float32)
    maps[0, 0, :num_fg] = 1
    saliency[0, :num_fg] = 1
    label = SaliencyLabelGenerator()(maps, np.array([4]), saliency=saliency)
    if expect_kept:  # 2 / 200 = 1% is not below 1%
        assert (label[0, :num_fg] == 5).all() and (label.ravel()[num_fg:] == 0).all()
    else:
        assert (label == 255).all()


def test_saliency_without_classes_ignores_everything():
    label = SaliencyLabelGenerator()(np.zeros((0, 3, 3)), np.zeros(0, np.int64),
                                     saliency=np.zeros((3, 3), np.float32))
    assert (label == 255).all()


def test_saliency_required():
    with pytest.raises(ValueError, match='needs a saliency map'):
        SaliencyLabelGenerator()(np.zeros((1, 3, 3)), np.array([0]))
    with pytest.raises(ValueError, match='saliency has shape'):
        SaliencyLabelGenerator()(np.zeros((1, 3, 3)), np.array([0]),
                                 saliency=np.zeros((2, 3), np.float32))


def test_registry_builds_mcis_variant():
    generator = LABEL_GENERATORS.build(
        dict(type='SaliencyLabelGenerator', conflict_threshold=0.99, att_ignore=0.95))
    assert isinstance(generator, SaliencyLabelGenerator)
    assert generator.conflict_threshold == 0.99 and generator.needs_saliency
