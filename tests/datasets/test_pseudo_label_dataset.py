"""PseudoLabelSegDataset: pseudo labels for training, ground truth for val, clear errors."""
import os
import os.path as osp

import mmcv
import numpy as np
import pytest
from mmengine.registry import init_default_scope

from wsss_toolbox.datasets import PseudoLabelSegDataset
from wsss_toolbox.registry import DATASETS

CLASSES = ('background', 'square', 'disc')
PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]


def _read_ids(root: str, split: str) -> list:
    with open(osp.join(root, 'ImageSets', 'Segmentation', f'{split}.txt')) as f:
        return f.read().split()


@pytest.fixture
def voc_with_pseudo_labels(tiny_voc, tmp_path):
    """tiny_voc (conftest) + pseudo labels of its train images: GT with a 255 band and one
    pixel set to another class, so they differ from the ground truth."""
    pseudo_dir = str(tmp_path / 'pseudo_labels')
    for img_id in _read_ids(tiny_voc, 'train'):
        label = mmcv.imread(osp.join(tiny_voc, 'SegmentationClass', f'{img_id}.png'),
                            flag='unchanged')
        label = label.copy()
        label[:, :4] = 255
        label[-1, -1] = 2
        mmcv.imwrite(label, osp.join(pseudo_dir, f'{img_id}.png'))
    return tiny_voc, pseudo_dir


def _build(root: str, split: str, **kwargs) -> PseudoLabelSegDataset:
    cfg = dict(
        type='PseudoLabelSegDataset',
        data_root=root,
        ann_file=f'ImageSets/Segmentation/{split}.txt',
        img_suffix='.png',
        metainfo=dict(classes=CLASSES),
        pipeline=PIPELINE)
    cfg.update(kwargs)
    init_default_scope('wsss_toolbox')
    return DATASETS.build(cfg)


def test_train_split_reads_pseudo_labels(voc_with_pseudo_labels):
    root, pseudo_dir = voc_with_pseudo_labels
    dataset = _build(root, 'train', data_prefix=dict(img_path='JPEGImages'),
                     pseudo_label_dir=pseudo_dir)
    ids = _read_ids(root, 'train')
    assert len(dataset) == len(ids) == 6
    assert dataset.metainfo['classes'] == CLASSES
    assert dataset.label_map is None  # no remapping: the PNG values are the class indices
    info = dataset.get_data_info(2)
    assert info['seg_map_path'] == osp.join(pseudo_dir, f'{ids[2]}.png')
    assert info['img_path'] == osp.join(root, 'JPEGImages', f'{ids[2]}.png')

    item = dataset[2]
    expected = mmcv.imread(info['seg_map_path'], flag='unchanged')
    loaded = item['data_samples'].gt_sem_seg.data[0].numpy()
    np.testing.assert_array_equal(loaded, expected)
    assert (loaded[:, :4] == 255).all() and loaded[-1, -1] == 2
    assert item['inputs'].shape == (3, 32, 32)


def test_val_split_reads_ground_truth(voc_with_pseudo_labels):
    root, _ = voc_with_pseudo_labels
    dataset = _build(root, 'val', test_mode=True,
                     data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'))
    img_id = _read_ids(root, 'val')[0]
    gt = mmcv.imread(osp.join(root, 'SegmentationClass', f'{img_id}.png'), flag='unchanged')
    np.testing.assert_array_equal(dataset[0]['data_samples'].gt_sem_seg.data[0].numpy(), gt)
    assert dataset[0]['data_samples'].img_path.endswith(f'{img_id}.png')


def test_relative_pseudo_label_dir_is_not_joined_with_data_root(voc_with_pseudo_labels,
                                                                monkeypatch):
    root, pseudo_dir = voc_with_pseudo_labels
    monkeypatch.chdir(osp.dirname(pseudo_dir))
    dataset = _build(root, 'train', data_prefix=dict(img_path='JPEGImages'),
                     pseudo_label_dir=osp.basename(pseudo_dir))
    assert dataset.get_data_info(0)['seg_map_path'].startswith(osp.basename(pseudo_dir) + '/')
    assert dataset[0]['data_samples'].gt_sem_seg.data.shape == (1, 32, 32)


def test_palette_and_vocabulary_of_the_config_are_kept(voc_with_pseudo_labels):
    root, pseudo_dir = voc_with_pseudo_labels
    palette = [[0, 0, 0], [200, 0, 0], [0, 0, 200]]
    dataset = _build(root, 'train', data_prefix=dict(img_path='JPEGImages'),
                     pseudo_label_dir=pseudo_dir,
                     metainfo=dict(classes=CLASSES, palette=palette))
    assert dataset.metainfo['palette'] == palette
    assert dataset.metainfo['classes'] == CLASSES


def test_class_file_adds_background(voc_with_pseudo_labels):
    root, pseudo_dir = voc_with_pseudo_labels
    with open(osp.join(root, 'classes.txt'), 'w') as f:
        f.write('square\ndisc extra-token\n\n')
    dataset = _build(root, 'train', data_prefix=dict(img_path='JPEGImages'),
                     pseudo_label_dir=pseudo_dir, metainfo=None, class_file='classes.txt')
    assert dataset.metainfo['classes'] == CLASSES
    with open(osp.join(root, 'with_bg.txt'), 'w') as f:
        f.write('background\nsquare\ndisc\n')
    dataset = _build(root, 'train', data_prefix=dict(img_path='JPEGImages'),
                     pseudo_label_dir=pseudo_dir, metainfo=None, class_file='with_bg.txt')
    assert dataset.metainfo['classes'] == CLASSES


def test_missing_classes_error(voc_with_pseudo_labels):
    root, pseudo_dir = voc_with_pseudo_labels
    with pytest.raises(ValueError, match='needs the class names'):
        _build(root, 'train', data_prefix=dict(img_path='JPEGImages'),
               pseudo_label_dir=pseudo_dir, metainfo=None)
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        _build(root, 'train', data_prefix=dict(img_path='JPEGImages'),
               pseudo_label_dir=pseudo_dir, metainfo=None, class_file='nope.txt')


def test_missing_pseudo_label_folder_error(voc_with_pseudo_labels, tmp_path):
    root, _ = voc_with_pseudo_labels
    missing = str(tmp_path / 'no_such_dir')
    with pytest.raises(FileNotFoundError, match='pseudo-label folder .*no_such_dir'):
        _build(root, 'train', data_prefix=dict(img_path='JPEGImages'),
               pseudo_label_dir=missing)


def test_missing_pseudo_label_file_error_names_it(voc_with_pseudo_labels):
    root, pseudo_dir = voc_with_pseudo_labels
    img_id = _read_ids(root, 'train')[3]
    os.remove(osp.join(pseudo_dir, f'{img_id}.png'))
    with pytest.raises(FileNotFoundError, match=rf'1 of 6 pseudo-label files .*{img_id}\.png'):
        _build(root, 'train', data_prefix=dict(img_path='JPEGImages'),
               pseudo_label_dir=pseudo_dir)
    # the check can be switched off (the loader would fail later on that image)
    dataset = _build(root, 'train', data_prefix=dict(img_path='JPEGImages'),
                     pseudo_label_dir=pseudo_dir, check_files=False)
    assert len(dataset) == 6


def test_missing_image_list_and_image_errors(voc_with_pseudo_labels):
    root, pseudo_dir = voc_with_pseudo_labels
    with pytest.raises(FileNotFoundError, match='train_aug.txt'):
        _build(root, 'train_aug', data_prefix=dict(img_path='JPEGImages'),
               pseudo_label_dir=pseudo_dir)
    img_id = _read_ids(root, 'train')[0]
    os.remove(osp.join(root, 'JPEGImages', f'{img_id}.png'))
    with pytest.raises(FileNotFoundError, match=rf'image files .*{img_id}\.png'):
        _build(root, 'train', data_prefix=dict(img_path='JPEGImages'),
               pseudo_label_dir=pseudo_dir)


# ----------------------------------------------- images without tags: skipped in every stage
def _untag(root: str, img_id: str) -> None:
    """Remove every tag of one image from the benchmark's cls_labels.txt."""
    path = osp.join(root, 'cls_labels.txt')
    with open(path) as f:
        lines = [img_id + '\n' if line.split()[0] == img_id else line for line in f]
    with open(path, 'w') as f:
        f.writelines(lines)


def _stage3(root: str, label_dir: str) -> PseudoLabelSegDataset:
    init_default_scope('wsss_toolbox')
    return DATASETS.build(dict(
        type='PseudoLabelSegDataset', data_root=root, class_file='classes.txt',
        img_suffix='.jpg', ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(img_path='JPEGImages'), pseudo_label_dir=label_dir, pipeline=[]))


def test_images_without_tags_are_skipped_in_every_stage(tmp_path):
    """Stages 1-2 (the image-label dataset) skip an image without tags; before, stage 3 then
    failed with "1 of 6 pseudo-label files ... are missing ... Re-run stage 2"."""
    from tiny_benchmark import dataset_cfg, write_gt_maps, write_tiny_benchmark

    from wsss_toolbox.pseudo_labels import generate_pseudo_labels, samples_from_dataset_cfg
    root = write_tiny_benchmark(str(tmp_path / 'bench'))
    _untag(root, 'train_00004')
    with pytest.warns(UserWarning, match=r'skipped 1 of 6 images .* without any positive '
                                         r'label \(train_00004\)'):
        samples, _ = samples_from_dataset_cfg(dataset_cfg(root))  # stages 1 and 2
    map_dir, label_dir = str(tmp_path / 'maps'), str(tmp_path / 'labels')
    write_gt_maps(root, map_dir)
    generate_pseudo_labels(samples, map_dir, label_dir,
                           dict(type='ThresholdLabelGenerator'), progress=False)
    with pytest.warns(UserWarning, match=r'skipped 1 of 6 images .*train\.txt that stage 2 did '
                                         r'not label .*labelled_images\.txt.*\(train_00004\.jpg\)'):
        dataset = _stage3(root, label_dir)
    assert len(dataset) == 5
    assert 'train_00004.jpg' not in [osp.basename(info['img_path']) for info in
                                     (dataset.get_data_info(i) for i in range(len(dataset)))]

    # an image stage 2 was to label but did not (an interrupted run) is still an error
    os.remove(osp.join(label_dir, 'train_00002.png'))
    with pytest.raises(FileNotFoundError, match=r'1 of 5 pseudo-label files .* missing: '
                                                r'.*train_00002\.png\. Re-run stage 2'):
        _stage3(root, label_dir)
    # labels made for another image list
    with open(osp.join(label_dir, 'labelled_images.txt'), 'w') as f:
        f.write('val_00000\n')
    with pytest.raises(ValueError, match=r'None of the images .* is in .*labelled_images\.txt'):
        _stage3(root, label_dir)


def test_a_group_wrapper_lists_the_images_it_wraps_once(tmp_path):
    """Stage 2 of a cross-image method reads its training set through the wrapper config
    (ImageGroupDataset): the images of the wrapped dataset, each once, in its order."""
    from tiny_benchmark import dataset_cfg, write_tiny_benchmark

    from wsss_toolbox.pseudo_labels import samples_from_dataset_cfg
    root = write_tiny_benchmark(str(tmp_path / 'bench'))
    plain, meta = samples_from_dataset_cfg(dataset_cfg(root))
    wrapped, wrapped_meta = samples_from_dataset_cfg(
        dict(type='ImageGroupDataset', group_size=2, dataset=dataset_cfg(root)))
    assert [s['img_id'] for s in wrapped] == [s['img_id'] for s in plain]
    assert len({s['img_id'] for s in wrapped}) == len(wrapped) == 6
    assert wrapped_meta['classes'] == meta['classes']


def test_a_group_wrapper_hands_its_overrides_to_the_listed_dataset(tmp_path):
    """ImageGroupDataset sets the keys it does not name (data_root ...) on the dataset it
    wraps when training; stage 2 lists the images with the same settings, not the inner
    config's."""
    from tiny_benchmark import dataset_cfg, write_tiny_benchmark

    from wsss_toolbox.pseudo_labels import samples_from_dataset_cfg
    root = write_tiny_benchmark(str(tmp_path / 'bench'))
    inner = dict(dataset_cfg(root), data_root=str(tmp_path / 'nowhere'))
    samples, _ = samples_from_dataset_cfg(
        dict(type='ImageGroupDataset', group_size=2, dataset=inner, data_root=root))
    assert len(samples) == 6 and all(s['img_path'].startswith(root) for s in samples)
