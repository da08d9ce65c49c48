"""The many-class variant of the synthetic benchmark (50 classes, one object class per image)
and the default benchmark left byte-identical."""
import hashlib
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from wsss_toolbox.datasets import read_label_file
from wsss_toolbox.datasets.synthetic_benchmark import VARIANTS, generate_synthetic_benchmark

# sha256 over (relative path, bytes) of every file of the default benchmark with these
# options, taken before the variant was added: the default output must not change
DEFAULT_DIGEST = 'fb90c4d0269dffa8fcc8c73959b7f482dfbfceb82ace45e7313c9e419997c14b'


def folder_digest(root):
    digest = hashlib.sha256()
    for folder, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            path = osp.join(folder, name)
            digest.update(osp.relpath(path, root).encode())
            with open(path, 'rb') as f:
                digest.update(f.read())
    return digest.hexdigest()


def test_default_benchmark_unchanged(tmp_path):
    generate_synthetic_benchmark(str(tmp_path), num_train=8, num_val=4, image_size=32,
                                 num_classes=4, seed=0)
    assert folder_digest(str(tmp_path)) == DEFAULT_DIGEST


def test_many_class_variant_has_one_class_per_image(tmp_path):
    out = str(tmp_path / 'many')
    summary = generate_synthetic_benchmark(out, num_train=30, num_val=6, image_size=32,
                                           variant='many-classes')
    assert len(summary['classes']) == 50 == len(set(summary['classes']))
    assert tuple(summary['config']['class_count_probs']) == (1.0, )
    assert summary['stats']['train']['multi_class_image_fraction'] == 0.0
    labels = read_label_file(osp.join(out, 'cls_labels.txt'))
    assert len(labels) == 36
    for img_id, (names, *_) in labels.items():
        mask = cv2.imread(osp.join(out, 'SegmentationClass', img_id + '.png'),
                          cv2.IMREAD_UNCHANGED)
        values = set(np.unique(mask).tolist()) - {0, 255}
        assert len(names) <= 1 and len(values) <= 1
        assert {summary['classes'][v - 1] for v in values} == set(names)
    # explicit options win over the variant's; unknown variants are refused
    fewer = generate_synthetic_benchmark(str(tmp_path / 'few'), num_train=2, num_val=1,
                                         image_size=32, num_classes=12, variant='many-classes')
    assert len(fewer['classes']) == 12
    with pytest.raises(ValueError, match='many-classes'):
        generate_synthetic_benchmark(str(tmp_path / 'bad'), variant='200-classes')
    assert 'many-classes' in VARIANTS
