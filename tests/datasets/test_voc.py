"""VOC 2012 / SBD train_aug layout: labels from masks or from a label file, masks, saliency."""
import os.path as osp
import warnings

import numpy as np
import pytest

from datasets.dataset_files import (  # noqa: F401
    two_class_mask,
    write_image,
    write_mask,
    write_text,
    wsss_scope,
)
from wsss_toolbox.datasets import (
    VOC_CLASSES,
    DatasetFormatError,
    ImageLabelDataset,
    VOCImageLabelDataset,
)
from wsss_toolbox.registry import DATASETS

# foreground index k <-> mask value k + 1: aeroplane = 0 (value 1), bird = 2, cat = 7, dog = 11
AEROPLANE, BIRD, CAT, DOG = 0, 2, 7, 11


@pytest.fixture
def voc_root(tmp_path):
    """Three train_aug images: aeroplane; bird + dog; cat (its mask uses a VOC palette PNG)."""
    root = str(tmp_path / 'VOC2012')
    masks = {
        '2007_000032': two_class_mask(12, 16, AEROPLANE + 1),
        '2007_000039': two_class_mask(12, 16, BIRD + 1, DOG + 1),
        '2008_000123': two_class_mask(12, 16, CAT + 1),
    }
    for index, (img_id, mask) in enumerate(masks.items()):
        write_image(osp.join(root, 'JPEGImages', img_id + '.jpg'), seed=index)
        write_mask(osp.join(root, 'SegmentationClassAug', img_id + '.png'), mask,
                   palette=img_id.startswith('2008'))
    # saliency for two of the three images
    for img_id in ('2007_000032', '2007_000039'):
        write_mask(osp.join(root, 'Saliency', img_id + '.png'),
                   np.full((12, 16), 200, dtype=np.uint8))
    # the usual train_aug.txt copy lists paths; plain ids are accepted too
    write_text(
        osp.join(root, 'ImageSets', 'Segmentation', 'train_aug.txt'), [
            '/JPEGImages/2007_000032.jpg /SegmentationClassAug/2007_000032.png',
            '2007_000039',
            '# a comment line',
            '2008_000123',
        ])
    return root


def expected_label(*indices):
    label = np.zeros(len(VOC_CLASSES), dtype=np.float32)
    label[list(indices)] = 1
    return label


def test_labels_masks_and_saliency_from_train_aug_masks(voc_root):
    # one warning names the image of the configured saliency folder without a saliency map
    with pytest.warns(UserWarning, match=r'1 of 3 images .* no saliency map .*2008_000123\.png'):
        dataset = DATASETS.build(
            dict(
                type='VOCImageLabelDataset',
                data_root=voc_root,
                ann_file='ImageSets/Segmentation/train_aug.txt',
                data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug',
                                 saliency_path='Saliency')))
    assert isinstance(dataset, VOCImageLabelDataset)
    assert dataset.metainfo['classes'] == VOC_CLASSES and len(dataset) == 3
    infos = [dataset.get_data_info(i) for i in range(3)]
    assert [info['img_id'] for info in infos] == ['2007_000032', '2007_000039', '2008_000123']
    np.testing.assert_array_equal(infos[0]['gt_label'], expected_label(AEROPLANE))
    np.testing.assert_array_equal(infos[1]['gt_label'], expected_label(BIRD, DOG))
    np.testing.assert_array_equal(infos[2]['gt_label'], expected_label(CAT))  # palette PNG
    assert infos[0]['gt_label'].dtype == np.float32
    assert infos[1]['img_path'] == osp.join(voc_root, 'JPEGImages', '2007_000039.jpg')
    assert infos[1]['seg_map_path'] == osp.join(voc_root, 'SegmentationClassAug',
                                                '2007_000039.png')
    assert infos[1]['saliency_path'] == osp.join(voc_root, 'Saliency', '2007_000039.png')
    # no saliency file for that image: its path is kept, so whatever reads it names the file
    assert infos[2]['saliency_path'] == osp.join(voc_root, 'Saliency', '2008_000123.png')
    assert infos[0]['seg_fields'] == []
    assert dataset.get_cat_ids(1) == [BIRD, DOG]


def test_labels_from_label_file_by_name_and_index(voc_root):
    write_text(osp.join(voc_root, 'cls_labels.txt'), [
        '2007_000032 aeroplane',
        f'2007_000039 bird {DOG}',  # names and 0-based foreground indices may be mixed
        '2008_000123 person cat',  # the label file wins over the mask
    ])
    dataset = VOCImageLabelDataset(
        data_root=voc_root, label_file='cls_labels.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path=None))
    labels = np.stack([dataset.get_data_info(i)['gt_label'] for i in range(3)])
    np.testing.assert_array_equal(labels[1], expected_label(BIRD, DOG))
    np.testing.assert_array_equal(labels[2], expected_label(CAT, VOC_CLASSES.index('person')))
    assert dataset.get_data_info(0)['seg_map_path'] is None  # masks switched off


def test_unknown_class_in_label_file_names_file_and_line(voc_root):
    write_text(osp.join(voc_root, 'cls_labels.txt'),
               ['2007_000032 aeroplane', '2007_000039 bird unicorn', '2008_000123 cat'])
    with pytest.raises(DatasetFormatError, match=r"cls_labels\.txt, line 2: unknown class "
                       r"'unicorn'"):
        VOCImageLabelDataset(data_root=voc_root, label_file='cls_labels.txt')


def test_out_of_range_index_and_missing_label_line(voc_root):
    write_text(osp.join(voc_root, 'cls_labels.txt'),
               ['2007_000032 aeroplane', '2007_000039 20', '2008_000123 cat'])
    with pytest.raises(DatasetFormatError, match=r'line 2: class index 20 is out of range'):
        VOCImageLabelDataset(data_root=voc_root, label_file='cls_labels.txt')
    write_text(osp.join(voc_root, 'cls_labels.txt'), ['2007_000032 aeroplane'])
    with pytest.raises(DatasetFormatError,
                       match=r"train_aug\.txt, line 2: image '2007_000039' has no line"):
        VOCImageLabelDataset(data_root=voc_root, label_file='cls_labels.txt')


def test_missing_image_names_image_and_line(voc_root):
    write_text(osp.join(voc_root, 'ImageSets', 'Segmentation', 'train_aug.txt'),
               ['2007_000032', '2007_000039', '2099_999999'])
    write_text(osp.join(voc_root, 'cls_labels.txt'),
               ['2007_000032 aeroplane', '2007_000039 bird', '2099_999999 dog'])
    with pytest.raises(FileNotFoundError,
                       match=r"cls_labels\.txt, line 3: image '.*2099_999999\.jpg' does not"):
        VOCImageLabelDataset(data_root=voc_root, label_file='cls_labels.txt')


def test_mask_value_outside_the_classes_is_an_error(voc_root):
    write_mask(osp.join(voc_root, 'SegmentationClassAug', '2007_000039.png'),
               two_class_mask(12, 16, 1, 42))
    with pytest.raises(DatasetFormatError,
                       match=r"mask .*2007_000039\.png \(listed at .*train_aug\.txt, line 2\) "
                       r'holds class id 42, but the dataset has 21 classes \(0\.\.20\) and '
                       r'ignore index 255'):
        VOCImageLabelDataset(data_root=voc_root)


def test_missing_mask_folder_and_mask_needed_for_labels(voc_root):
    with pytest.raises(FileNotFoundError, match='data_prefix.seg_map_path'):
        VOCImageLabelDataset(
            data_root=voc_root,
            data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'))
    with pytest.raises(DatasetFormatError, match=r'line 1: .* no mask .* give a label_file'):
        VOCImageLabelDataset(data_root=voc_root,
                             data_prefix=dict(img_path='JPEGImages', seg_map_path=None))


def test_images_without_positive_label_are_skipped_with_one_warning(voc_root):
    # two background-only masks: both skipped, one summary warning naming the count
    for img_id in ('2007_000032', '2008_000123'):
        write_mask(osp.join(voc_root, 'SegmentationClassAug', img_id + '.png'),
                   two_class_mask(12, 16, 0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        dataset = VOCImageLabelDataset(data_root=voc_root)
    skip_warnings = [w for w in caught if 'without any positive label' in str(w.message)]
    assert len(skip_warnings) == 1
    assert 'skipped 2 of 3 images' in str(skip_warnings[0].message)
    assert [dataset.get_data_info(0)['img_id']] == ['2007_000039'] and len(dataset) == 1


def test_base_dataset_reads_openmmlab_annotation_file(voc_root, tmp_path):
    annotation = dict(
        metainfo=dict(classes=['bird', 'dog']),
        data_list=[
            dict(img_path='2007_000039.jpg', labels=['bird', 1],
                 seg_map_path='2007_000039.png'),
            dict(img_path='2007_000032.jpg', img_id='plane', labels=[]),
        ])
    import json
    ann_file = tmp_path / 'ann.json'
    ann_file.write_text(json.dumps(annotation))
    with pytest.warns(UserWarning, match='skipped 1 of 2'):
        dataset = DATASETS.build(
            dict(type='ImageLabelDataset', ann_file=str(ann_file),
                 data_prefix=dict(img_path=osp.join(voc_root, 'JPEGImages'),
                                  seg_map_path=osp.join(voc_root, 'SegmentationClassAug'))))
    assert isinstance(dataset, ImageLabelDataset)
    assert dataset.metainfo['classes'] == ('bird', 'dog')
    info = dataset.get_data_info(0)
    np.testing.assert_array_equal(info['gt_label'], [1, 1])
    assert info['img_id'] == '2007_000039' and info['seg_map_path'].endswith('2007_000039.png')
