"""SeeNet's proxy ground truth (Algorithm 1, ``HarmonicLabelGenerator``) on hand-computed
1-row examples and against a pixel-by-pixel transcription of the algorithm; its registration
by the method package; the deprecated import path from the core."""
import os.path as osp
import subprocess
import sys
import warnings

import numpy as np
import pytest

from wsss_toolbox.methods.seenet import HarmonicLabelGenerator
from wsss_toolbox.registry import LABEL_GENERATORS


def row(*values) -> np.ndarray:
    """A 1xN float32 image row."""
    return np.array([values], np.float32)


def stack(*rows) -> np.ndarray:
    return np.stack(rows)


def test_harmonic_mean_rule():
    maps = stack(row(0.5, 0.6, 1.0, 0.3), row(0.0, 0.9, 0.0, 0.0))
    saliency = row(0.5, 0.8, 0.0, 1.0)
    # px0: Q0 = .5, Q1 = 2*.25/1 = .5 (tie -> bg); px1: Q0 = .2, Q1 = .686, Q4 = .847;
    # px2: D = 0 -> Q = 0, Q0 = 1; px3: Q0 = 0, Q1 = 2*.3/1.3 = .46, Q4 = 0 (A = 0)
    label = HarmonicLabelGenerator(normalize=False)(maps, np.array([1, 4]), saliency=saliency)
    assert label.tolist() == [[0, 5, 0, 2]]


def test_harmonic_weight():
    maps = stack(row(0.28))
    saliency = row(0.6)  # Q0 = .4
    # w = 1: 2 * .28 * .6 / (.6 + .28) = .382 < .4;  w = .5: 1.5 * .168 / .58 = .434 > .4
    assert HarmonicLabelGenerator(w=1, normalize=False)(
        maps, np.array([7]), saliency=saliency).tolist() == [[0]]
    assert HarmonicLabelGenerator(w=0.5, normalize=False)(
        maps, np.array([7]), saliency=saliency).tolist() == [[8]]


def test_harmonic_requires_saliency():
    with pytest.raises(ValueError, match='needs a saliency map'):
        HarmonicLabelGenerator()(np.zeros((1, 2, 2)), np.array([0]))


def algorithm1_reference(maps, classes, saliency, w):
    """SeeNet's Algorithm 1 written out pixel by pixel (Eq. 3 in its original form)."""
    height, width = saliency.shape
    label = np.zeros((height, width), np.uint8)
    for y in range(height):
        for x in range(width):
            d = float(saliency[y, x])
            votes = [(1 - d, 0)]  # Q(0, i) = 1 - D(i)
            for k, c in enumerate(classes):
                a = float(maps[k, y, x])
                harm = 0.0 if a == 0 or d == 0 else (w + 1) / (w / a + 1 / d)
                votes.append((harm, c + 1))
            best = max(score for score, _ in votes)
            label[y, x] = next(value for score, value in votes if score == best)
    return label


@pytest.mark.parametrize('w', [1.0, 2.5])
def test_harmonic_matches_algorithm1_pixel_by_pixel(w):
    rng = np.random.default_rng(3)
    maps = rng.random((3, 6, 7)).astype(np.float32) * (rng.random((3, 6, 7)) > 0.2)
    maps /= maps.max(axis=(1, 2), keepdims=True)
    saliency = (rng.integers(0, 256, (6, 7)) / 255.0).astype(np.float32)
    classes = np.array([0, 4, 6])
    label = HarmonicLabelGenerator(w=w)(maps, classes, saliency=saliency)
    np.testing.assert_array_equal(label, algorithm1_reference(maps, classes, saliency, w))
    assert set(np.unique(label)) <= {0, 1, 5, 7}  # only {0} ∪ y vote


def test_harmonic_rejects_saliency_outside_unit_range():
    maps = stack(row(0.5, 1.0))
    with pytest.raises(ValueError, match=r'values in \[0, 1\].*divide a uint8'):
        HarmonicLabelGenerator()(maps, np.array([0]), saliency=row(0, 255))
    with pytest.raises(ValueError, match=r'\[-0.5, 0.5\]'):
        HarmonicLabelGenerator()(maps, np.array([0]), saliency=row(-0.5, 0.5))


# ---------------------------------------------------------------- registration and old path
def test_registered_under_its_name_by_the_method_package():
    generator = LABEL_GENERATORS.build(dict(type='HarmonicLabelGenerator', w=2.0))
    assert isinstance(generator, HarmonicLabelGenerator) and generator.w == 2.0
    assert generator.needs_saliency and not generator.needs_image
    assert HarmonicLabelGenerator.__module__ == 'wsss_toolbox.methods.seenet.label_generator'


@pytest.mark.parametrize('module', ['wsss_toolbox.pseudo_labels',
                                    'wsss_toolbox.pseudo_labels.generators'])
def test_old_import_path_warns_and_names_the_new_one(module):
    old = __import__(module, fromlist=['_'])
    with pytest.warns(DeprecationWarning,
                      match='from wsss_toolbox.methods.seenet import HarmonicLabelGenerator'):
        cls = old.HarmonicLabelGenerator
    assert cls is HarmonicLabelGenerator


def test_old_from_import_still_works():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        from wsss_toolbox.pseudo_labels import HarmonicLabelGenerator as Old
        from wsss_toolbox.pseudo_labels.generators import HarmonicLabelGenerator as OldToo
    assert Old is HarmonicLabelGenerator and OldToo is HarmonicLabelGenerator
    assert caught and all(issubclass(w.category, DeprecationWarning) for w in caught)
    assert any(w.filename == __file__ for w in caught)  # points at the importing line


def test_unknown_names_still_raise_attribute_error():
    import wsss_toolbox.pseudo_labels as pseudo_labels
    with pytest.raises(AttributeError, match='NoSuchGenerator'):
        pseudo_labels.NoSuchGenerator  # noqa: B018
    assert 'HarmonicLabelGenerator' not in pseudo_labels.__all__


def test_importing_the_core_does_not_load_seenet():
    """The shim loads the method only when the old name is used, never at import time."""
    code = ('import sys, warnings\n'
            'import wsss_toolbox.pseudo_labels as p\n'
            'from wsss_toolbox.pseudo_labels import *\n'
            "assert 'wsss_toolbox.methods.seenet' not in sys.modules\n"
            'with warnings.catch_warnings(record=True) as caught:\n'
            "    warnings.simplefilter('always')\n"
            '    cls = p.HarmonicLabelGenerator\n'
            "assert cls.__module__ == 'wsss_toolbox.methods.seenet.label_generator'\n"
            "assert caught[0].category is DeprecationWarning\n")
    repo = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    subprocess.run([sys.executable, '-c', code], cwd=repo, check=True, timeout=120)
