"""The generator's ``pretrain`` variant: the synthetic "ImageNet" the shipped backbone learns
from (classes named by a whole body's look, none of them the benchmark's)."""
import os.path as osp

import cv2
import numpy as np
import pytest

from wsss_toolbox.datasets import read_label_file
from wsss_toolbox.datasets.synthetic_benchmark import generate_synthetic_benchmark
from wsss_toolbox.datasets.synthetic_benchmark.generator import (
    BODY_SHAPES,
    BODY_TEXTURES,
    class_specs,
    resolve_benchmark_config,
)


@pytest.fixture(scope='module')
def pretrain_set(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('pretrain'))
    summary = generate_synthetic_benchmark(out, num_train=40, num_val=8, image_size=64,
                                           variant='pretrain', write_region_kinds=True)
    return out, summary


def test_classes_are_body_looks_disjoint_from_the_benchmarks(pretrain_set):
    _, summary = pretrain_set
    specs = summary['class_specs']
    assert len(specs) == 64 == len({spec['name'] for spec in specs})
    # every (shape, texture, colour) once: each of the three is needed to tell classes apart
    looks = {(spec['shape'], spec['texture'], spec['hue']) for spec in specs}
    assert len(looks) == 64
    assert {spec['shape'] for spec in specs} == set(BODY_SHAPES)
    assert {spec['texture'] for spec in specs} == set(BODY_TEXTURES)
    benchmark = {spec['name'] for spec in class_specs(resolve_benchmark_config())}
    assert not benchmark & {spec['name'] for spec in specs}


def test_one_class_per_image_drawn_without_parts_or_decoys(pretrain_set):
    out, summary = pretrain_set
    labels = read_label_file(osp.join(out, 'cls_labels.txt'))
    assert len(labels) == 48
    objects = []
    for img_id, (names, *_) in labels.items():
        mask = cv2.imread(osp.join(out, 'SegmentationClass', img_id + '.png'),
                          cv2.IMREAD_UNCHANGED)
        kinds = cv2.imread(osp.join(out, 'RegionKinds', img_id + '.png'), cv2.IMREAD_UNCHANGED)
        values = set(np.unique(mask).tolist()) - {0, 255}
        assert len(names) == 1 and {summary['classes'][v - 1] for v in values} == set(names)
        assert not (kinds == 4).any() and not (kinds == 2).any()  # no part, no decoy pixels
    for split in ('train', 'val'):
        stats = summary['stats'][split]
        assert stats['classes_per_image'] == 1.0
        assert 1.0 <= stats['objects_per_image'] <= 2.0
        objects.append(stats['objects_per_image'])
    assert max(objects) > 1.0  # some images hold two objects of their class


def test_body_classes_refuse_options_that_would_mislabel():
    with pytest.raises(ValueError, match='decoy_rate=0'):
        resolve_benchmark_config(variant='pretrain', decoy_rate=1.0)
    with pytest.raises(ValueError, match='at most 128'):
        resolve_benchmark_config(variant='pretrain', num_classes=200)
    with pytest.raises(ValueError, match="'part' or 'body'"):
        resolve_benchmark_config(classes_by='colour')


def test_default_benchmark_record_has_no_new_field(tmp_path):
    # folders written before `classes_by` existed still match the pipelines' requests
    summary = generate_synthetic_benchmark(str(tmp_path), num_train=2, num_val=1,
                                           image_size=32)
    assert 'classes_by' not in summary['config']
