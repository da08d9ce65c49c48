"""COCO (instances json), LID / ILSVRC DET (XML) and generic (text file) layouts."""
import json
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
    COCOImageLabelDataset,
    DatasetFormatError,
    GenericImageLabelDataset,
    LIDImageLabelDataset,
)
from wsss_toolbox.registry import DATASETS


# ------------------------------------------------------------------------------------ COCO
def write_coco(root, annotations=None, categories=None):
    images = [
        dict(id=9, file_name='COCO_train2014_000000000009.jpg', height=12, width=16),
        dict(id=25, file_name='COCO_train2014_000000000025.jpg', height=12, width=16),
        dict(id=30, file_name='COCO_train2014_000000000030.jpg', height=12, width=16),
    ]
    for index, image in enumerate(images):
        write_image(osp.join(root, 'train2014', image['file_name']), seed=index)
    categories = categories or [
        dict(id=18, name='dog'), dict(id=1, name='person'), dict(id=3, name='car')]
    if annotations is None:
        annotations = [
            dict(id=100, image_id=9, category_id=18, iscrowd=0),
            dict(id=101, image_id=9, category_id=1, iscrowd=0),
            dict(id=102, image_id=9, category_id=1, iscrowd=1),  # crowd still labels the image
            dict(id=103, image_id=25, category_id=3, iscrowd=0),
        ]  # image 30 has no annotation: skipped
    path = osp.join(root, 'annotations', 'instances_train2014.json')
    write_text(path, [json.dumps(dict(images=images, annotations=annotations,
                                      categories=categories))])
    return path


def test_coco_labels_from_instances_json(tmp_path):
    root = str(tmp_path / 'coco')
    write_coco(root)
    write_mask(osp.join(root, 'masks', 'COCO_train2014_000000000025.png'),
               two_class_mask(12, 16, 2))
    with pytest.warns(UserWarning, match='skipped 1 of 3'):
        dataset = DATASETS.build(
            dict(type='COCOImageLabelDataset', data_root=root,
                 data_prefix=dict(img_path='train2014', seg_map_path='masks')))
    assert isinstance(dataset, COCOImageLabelDataset)
    # classes follow the category ids: person (1), car (3), dog (18)
    assert dataset.metainfo['classes'] == ('person', 'car', 'dog')
    assert len(dataset) == 2
    first, second = dataset.get_data_info(0), dataset.get_data_info(1)
    assert first['img_id'] == 'COCO_train2014_000000000009'
    np.testing.assert_array_equal(first['gt_label'], [1, 0, 1])
    np.testing.assert_array_equal(second['gt_label'], [0, 1, 0])
    assert first['seg_map_path'] is None and second['seg_map_path'].endswith('25.png')


def test_coco_with_given_class_order_and_errors(tmp_path):
    root = str(tmp_path / 'coco')
    write_coco(root)
    with pytest.warns(UserWarning, match='skipped 1 of 3'):
        dataset = COCOImageLabelDataset(data_root=root,
                                        metainfo=dict(classes=('dog', 'car', 'person')))
    np.testing.assert_array_equal(dataset.get_data_info(0)['gt_label'], [1, 0, 1])
    with pytest.raises(DatasetFormatError, match=r"category 'dog' \(id 18\) is not in "
                       'metainfo.classes'):
        COCOImageLabelDataset(data_root=root, metainfo=dict(classes=('car', 'person')))
    write_coco(root, annotations=[dict(id=7, image_id=9, category_id=99)])
    with pytest.raises(DatasetFormatError,
                       match=r'instances_train2014\.json, annotations\[0\] \(id 7\): unknown '
                       'category_id 99'):
        COCOImageLabelDataset(data_root=root)


def test_coco_missing_image_is_named(tmp_path):
    root = str(tmp_path / 'coco')
    write_coco(root)
    (tmp_path / 'coco' / 'train2014' / 'COCO_train2014_000000000025.jpg').unlink()
    with pytest.raises(FileNotFoundError, match=r'images\[1\] \(id 25\): image .*25\.jpg'):
        COCOImageLabelDataset(data_root=root)


# ------------------------------------------------------------------------------------ LID
XML_TEMPLATE = """<annotation>
  <folder>{folder}</folder>
  <filename>{name}</filename>
  <size><width>16</width><height>12</height></size>
{objects}</annotation>
"""
OBJECT_TEMPLATE = """  <object>
    <name>{wnid}</name>
    <bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox>
  </object>
"""


def write_lid(root, objects_of_image):
    lines = []
    for index, (stem, wnids) in enumerate(objects_of_image.items()):
        write_image(osp.join(root, 'Data', 'DET', 'train', stem + '.JPEG'), seed=index)
        xml = XML_TEMPLATE.format(
            folder=osp.dirname(stem), name=osp.basename(stem),
            objects=''.join(OBJECT_TEMPLATE.format(wnid=wnid) for wnid in wnids))
        write_text(osp.join(root, 'Annotations', 'DET', 'train', stem + '.xml'), [xml])
        lines.append(f'{stem} {index + 1}')
    write_text(osp.join(root, 'ImageSets', 'DET', 'train.txt'), lines)
    write_text(osp.join(root, 'classes.txt'),
               ['n01443537 goldfish', 'n01503061 bird', 'n02084071 dog'])


LID_IMAGES = {
    'ILSVRC2013_train/n01443537/n01443537_10007': ['n01443537', 'n01443537'],
    'ILSVRC2013_train/n02084071/n02084071_1': ['n02084071', 'n01503061'],
    'ILSVRC2014_train_0000/ILSVRC2014_train_00000001': [],  # no object: skipped
}


def test_lid_labels_from_xml(tmp_path):
    root = str(tmp_path / 'ILSVRC')
    write_lid(root, LID_IMAGES)
    write_mask(osp.join(root, 'masks', 'ILSVRC2013_train', 'n02084071', 'n02084071_1.png'),
               two_class_mask(12, 16, 3, 2))
    with pytest.warns(UserWarning, match='skipped 1 of 3'):
        dataset = DATASETS.build(
            dict(type='LIDImageLabelDataset', data_root=root, class_file='classes.txt',
                 data_prefix=dict(img_path='Data/DET/train', ann_path='Annotations/DET/train',
                                  seg_map_path='masks')))
    assert isinstance(dataset, LIDImageLabelDataset)
    assert dataset.metainfo['classes'] == ('goldfish', 'bird', 'dog')
    assert dataset.metainfo['wnids'] == ('n01443537', 'n01503061', 'n02084071')
    first, second = dataset.get_data_info(0), dataset.get_data_info(1)
    assert first['img_id'] == 'n01443537_10007'
    assert first['img_path'].endswith('ILSVRC2013_train/n01443537/n01443537_10007.JPEG')
    np.testing.assert_array_equal(first['gt_label'], [1, 0, 0])
    np.testing.assert_array_equal(second['gt_label'], [0, 1, 1])
    assert first['seg_map_path'] is None and second['seg_map_path'].endswith('n02084071_1.png')


def test_lid_with_wnids_as_classes_and_unknown_wnid(tmp_path):
    root = str(tmp_path / 'ILSVRC')
    write_lid(root, {**LID_IMAGES, 'ILSVRC2013_train/x/x_1': ['n01443537', 'n09999999']})
    with pytest.raises(DatasetFormatError) as error:
        LIDImageLabelDataset(data_root=root, class_file='classes.txt')
    message = str(error.value)
    # the XML file, the line of the offending <name>, and the list line that named the file
    assert "x_1.xml, line 10: unknown class 'n09999999'" in message
    assert 'train.txt, line 4' in message
    write_lid(root, LID_IMAGES)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        dataset = LIDImageLabelDataset(
            data_root=root, metainfo=dict(classes=('n01443537', 'n02084071', 'n01503061')))
    np.testing.assert_array_equal(dataset.get_data_info(1)['gt_label'], [0, 1, 1])


def test_lid_missing_xml_and_missing_image(tmp_path):
    root = str(tmp_path / 'ILSVRC')
    write_lid(root, LID_IMAGES)
    stem = 'ILSVRC2013_train/n02084071/n02084071_1'
    (tmp_path / 'ILSVRC' / 'Data' / 'DET' / 'train' / (stem + '.JPEG')).unlink()
    with pytest.raises(FileNotFoundError, match=r'train\.txt, line 2\): image .*n02084071_1'):
        LIDImageLabelDataset(data_root=root, class_file='classes.txt')
    (tmp_path / 'ILSVRC' / 'Annotations' / 'DET' / 'train' / (stem + '.xml')).unlink()
    with pytest.raises(FileNotFoundError, match=r'train\.txt, line 2: annotation .*\.xml'):
        LIDImageLabelDataset(data_root=root, class_file='classes.txt')


# ------------------------------------------------------------------------------------ generic
@pytest.fixture
def generic_root(tmp_path):
    root = str(tmp_path / 'generic')
    write_image(osp.join(root, 'images', 'cat_01.jpg'), seed=1)
    write_image(osp.join(root, 'images', 'sub', 'two_animals.png'), seed=2)
    write_image(osp.join(root, 'images', 'empty.jpg'), seed=3)
    write_text(osp.join(root, 'classes.txt'), ['cat', 'dog', 'horse'])
    write_text(osp.join(root, 'labels.txt'),
               ['cat_01 cat', 'sub/two_animals.png dog 2', 'empty'])
    write_mask(osp.join(root, 'saliency', 'cat_01.png'), np.full((12, 16), 9, np.uint8))
    return root


def test_generic_layout(generic_root):
    with pytest.warns(UserWarning, match=r'skipped 1 of 3 .*\(empty\)'):
        dataset = DATASETS.build(
            dict(type='GenericImageLabelDataset', data_root=generic_root,
                 data_prefix=dict(img_path='images', saliency_path='saliency')))
    assert isinstance(dataset, GenericImageLabelDataset)
    assert dataset.metainfo['classes'] == ('cat', 'dog', 'horse')
    first, second = dataset.get_data_info(0), dataset.get_data_info(1)
    assert first['img_id'] == 'cat_01' and first['img_path'].endswith('images/cat_01.jpg')
    assert second['img_id'] == 'sub/two_animals'
    assert second['img_path'].endswith('images/sub/two_animals.png')
    np.testing.assert_array_equal(first['gt_label'], [1, 0, 0])
    np.testing.assert_array_equal(second['gt_label'], [0, 1, 1])
    assert first['saliency_path'].endswith('saliency/cat_01.png')
    # no saliency map for the second image: the path is kept (its reader names the file)
    assert second['saliency_path'].endswith('saliency/sub/two_animals.png')
    assert first['seg_map_path'] is None  # masks are optional per image


def test_generic_errors_name_file_and_line(generic_root):
    write_text(osp.join(generic_root, 'labels.txt'), ['cat_01 cat', 'missing dog'])
    with pytest.raises(FileNotFoundError,
                       match=r"labels\.txt, line 2: image '.*images/missing\.jpg' does not"):
        GenericImageLabelDataset(data_root=generic_root)
    write_text(osp.join(generic_root, 'labels.txt'), ['cat_01 cat', '', 'empty Dog'])
    with pytest.raises(DatasetFormatError, match=r"labels\.txt, line 3: unknown class 'Dog'"):
        GenericImageLabelDataset(data_root=generic_root)
    with pytest.raises(DatasetFormatError, match='needs its foreground class names'):
        GenericImageLabelDataset(data_root=generic_root, class_file=None)
