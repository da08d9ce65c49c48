"""The embedded synthetic benchmark: layout, determinism, statistics, dataset, CLI."""
import filecmp
import importlib.util
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from datasets.dataset_files import wsss_scope  # noqa: F401
from wsss_toolbox.datasets import SyntheticWSSSDataset, read_label_file
from wsss_toolbox.datasets.synthetic_benchmark import REGION_KINDS, generate_synthetic_benchmark
from wsss_toolbox.registry import DATASETS

TINY = dict(num_train=8, num_val=4, image_size=32, num_classes=4)
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def all_files(root):
    return sorted(
        osp.relpath(osp.join(folder, name), root) for folder, _, names in os.walk(root)
        for name in names)


def test_layout_and_labels(tmp_path):
    out = str(tmp_path / 'bench')
    summary = generate_synthetic_benchmark(out, seed=0, **TINY)
    ids = {split: [f'{split}_{i:05d}' for i in range(count)]
           for split, count in (('train', 8), ('val', 4))}
    expected = {'benchmark.json', 'classes.txt', 'cls_labels.txt',
                'ImageSets/Segmentation/train.txt', 'ImageSets/Segmentation/val.txt'}
    for img_id in ids['train'] + ids['val']:
        expected |= {f'JPEGImages/{img_id}.jpg', f'SegmentationClass/{img_id}.png',
                     f'Saliency/{img_id}.png'}
    assert set(all_files(out)) == expected
    for split in ('train', 'val'):
        with open(osp.join(out, 'ImageSets', 'Segmentation', f'{split}.txt')) as f:
            assert f.read().split() == ids[split]
    with open(osp.join(out, 'classes.txt')) as f:
        classes = f.read().split()
    assert classes == summary['classes'] and len(classes) == 4 and len(set(classes)) == 4
    labels = read_label_file(osp.join(out, 'cls_labels.txt'))
    for img_id in ids['train'] + ids['val']:
        image = cv2.imread(osp.join(out, 'JPEGImages', img_id + '.jpg'), cv2.IMREAD_UNCHANGED)
        mask = cv2.imread(osp.join(out, 'SegmentationClass', img_id + '.png'),
                          cv2.IMREAD_UNCHANGED)
        saliency = cv2.imread(osp.join(out, 'Saliency', img_id + '.png'), cv2.IMREAD_UNCHANGED)
        assert image.shape == (32, 32, 3) and mask.shape == saliency.shape == (32, 32)
        assert mask.dtype == saliency.dtype == np.uint8
        # the image labels are exactly the classes visible in the mask
        values = set(np.unique(mask).tolist()) - {0, 255}
        assert {classes[v - 1] for v in values} == set(labels[img_id][0])
        assert len(values) >= 1
    with open(osp.join(out, 'benchmark.json')) as f:
        assert json.load(f)['config']['num_train'] == 8


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    first, second, other = (str(tmp_path / name) for name in ('a', 'b', 'c'))
    generate_synthetic_benchmark(first, seed=5, **TINY)
    generate_synthetic_benchmark(second, seed=5, num_workers=2, **TINY)  # workers: same bytes
    generate_synthetic_benchmark(other, seed=6, **TINY)
    files = all_files(first)
    assert files == all_files(second) == all_files(other)
    match, mismatch, errors = filecmp.cmpfiles(first, second, files, shallow=False)
    assert mismatch == [] and errors == [] and len(match) == len(files)
    _, changed, _ = filecmp.cmpfiles(first, other, files, shallow=False)
    assert any(name.startswith('JPEGImages') for name in changed)
    assert any(name.startswith('SegmentationClass') for name in changed)
    assert any(name.startswith('Saliency') for name in changed)
    # regenerating into an earlier benchmark folder replaces it (no stale files)
    generate_synthetic_benchmark(first, seed=6, **dict(TINY, num_train=3))
    assert 'JPEGImages/train_00004.jpg' not in all_files(first)


def test_region_kind_maps_agree_with_the_masks(tmp_path):
    out = str(tmp_path / 'bench')
    generate_synthetic_benchmark(out, seed=4, write_region_kinds=True, decoy_rate=2.0,
                                 context_prob=1.0, **TINY)
    kinds_seen = set()
    for img_id in [f'train_{i:05d}' for i in range(8)]:
        kinds = cv2.imread(osp.join(out, 'RegionKinds', img_id + '.png'), cv2.IMREAD_UNCHANGED)
        mask = cv2.imread(osp.join(out, 'SegmentationClass', img_id + '.png'),
                          cv2.IMREAD_UNCHANGED)
        objects = (mask > 0) & (mask != 255)
        is_object = (kinds == REGION_KINDS['body']) | (kinds == REGION_KINDS['part'])
        np.testing.assert_array_equal(is_object, objects)
        np.testing.assert_array_equal(kinds == REGION_KINDS['ignore'], mask == 255)
        kinds_seen |= set(np.unique(kinds).tolist())
    assert {REGION_KINDS[k] for k in ('context', 'decoy', 'body', 'part')} <= kinds_seen


def test_class_names_follow_the_body_families(tmp_path):
    by_texture = generate_synthetic_benchmark(str(tmp_path / 'a'), **dict(TINY, num_classes=8))
    assert by_texture['classes'][:2] == ['stripes_red', 'checker_yellow']
    assert [spec['family'] for spec in by_texture['class_specs']] == [0, 1] * 4
    by_shape = generate_synthetic_benchmark(str(tmp_path / 'b'), shape_per_family=True,
                                            num_body_families=4, **dict(TINY, num_classes=8))
    assert by_shape['classes'][:4] == ['ellipse_red', 'box_yellow', 'diamond_lime', 'star_green']
    assert [spec['shape'] for spec in by_shape['family_specs']] == [
        'ellipse', 'box', 'diamond', 'star']


def test_refuses_to_write_into_a_foreign_folder(tmp_path):
    (tmp_path / 'mine.txt').write_text('keep me')
    with pytest.raises(FileExistsError, match='not empty'):
        generate_synthetic_benchmark(str(tmp_path), **TINY)
    with pytest.raises(TypeError, match='unknown generator option'):
        generate_synthetic_benchmark(str(tmp_path / 'x'), not_an_option=1, **TINY)


def test_difficulty_statistics_and_knobs(tmp_path):
    base = dict(num_train=60, num_val=0, image_size=64, num_classes=8, seed=1)
    stats = generate_synthetic_benchmark(str(tmp_path / 'a'), **base)['stats']['train']
    # the part is a small fraction of the object, and predicting parts only is far from GT
    assert 0.05 < stats['part_fraction_of_object'] < 0.3
    assert stats['part_only_miou'] < 0.5
    # several classes per image, contexts co-occurring with their classes
    assert stats['classes_per_image'] > 1.3 and stats['objects_per_image'] > 1.5
    assert stats['context_given_class'] > 1.5 * stats['context_given_no_class']
    # saliency is informative but imperfect
    assert 0.5 < stats['saliency_iou'] < 0.95
    assert stats['saliency_precision'] < 1 and stats['saliency_recall'] < 1
    # knobs move the statistics the documented way
    harder = generate_synthetic_benchmark(
        str(tmp_path / 'b'), part_size=0.25, saliency_miss_prob=0.5, context_prob=1.0,
        **base)['stats']['train']
    assert harder['part_fraction_of_object'] < stats['part_fraction_of_object']
    assert harder['saliency_recall'] < stats['saliency_recall']
    assert harder['context_given_class'] > stats['context_given_class']


def test_synthetic_dataset_loads_the_benchmark(tmp_path):
    out = str(tmp_path / 'bench')
    summary = generate_synthetic_benchmark(out, seed=2, **TINY)
    train = DATASETS.build(dict(type='SyntheticWSSSDataset', data_root=out))
    val = SyntheticWSSSDataset(data_root=out, split='val', test_mode=True)
    assert isinstance(train, SyntheticWSSSDataset)
    assert len(train) == 8 and len(val) == 4
    assert train.metainfo['classes'] == tuple(summary['classes'])
    info = val.get_data_info(0)
    assert info['img_id'] == 'val_00000'
    assert osp.isfile(info['seg_map_path']) and osp.isfile(info['saliency_path'])
    mask = cv2.imread(info['seg_map_path'], cv2.IMREAD_UNCHANGED)
    present = sorted(set(np.unique(mask).tolist()) - {0, 255})
    assert np.flatnonzero(info['gt_label']).tolist() == [v - 1 for v in present]


def test_command_line_tool(tmp_path, capsys):
    out = str(tmp_path / 'cli')
    spec = importlib.util.spec_from_file_location(
        'make_synthetic_benchmark',
        osp.join(REPO, 'tools', 'dataset_converters', 'make_synthetic_benchmark.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    status = tool.main([
        out, '--num-train', '4', '--num-val', '2', '--image-size', '24', '--num-classes', '3',
        '--workers', '1', '--option', 'decoy_rate=0.0', '--option', 'clutter_range=(1, 2)'
    ])
    assert status == 0
    assert 'saliency IoU @0.5' in capsys.readouterr().out
    with open(osp.join(out, 'benchmark.json')) as f:
        config = json.load(f)['config']
    assert config['decoy_rate'] == 0.0 and config['clutter_range'] == [1, 2]
    assert config['num_classes'] == 3
