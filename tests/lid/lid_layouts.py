"""Tiny ILSVRC-LID-200 (track 1) and CLS-LOC (track 3) folders made from the synthetic
benchmark's many-class variant (one object class per image, so every image has a label and
a mask), and tiny stage / pipeline configs that inherit the real LID configs."""
import os
import os.path as osp
import shutil

import cv2
import numpy as np

from wsss_toolbox.datasets.synthetic_benchmark import generate_synthetic_benchmark

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NUM_CLASSES = 3
LID_CLASSES = 200  # the track-1 class list: 200 wnids, the images use the first three
WNIDS = [f'n{k:08d}' for k in range(LID_CLASSES)][:NUM_CLASSES]
NO_WORKERS = ('dict(num_workers=0, persistent_workers=False, batch_size=4)')


def _synthetic(root, num_train, num_val):
    source = osp.join(root, '_synthetic')
    generate_synthetic_benchmark(source, num_train=num_train, num_val=num_val, image_size=32,
                                 num_classes=NUM_CLASSES, variant='many-classes')
    with open(osp.join(source, 'classes.txt')) as f:
        names = [line.split()[0] for line in f if line.strip()]
    items = {}
    with open(osp.join(source, 'cls_labels.txt')) as f:
        for line in f:
            img_id, *labels = line.split()
            if labels:
                items[img_id] = names.index(labels[0])
    return source, items


def _jpeg_copy(source, img_id, target):
    os.makedirs(osp.dirname(target), exist_ok=True)
    shutil.copyfile(osp.join(source, 'JPEGImages', img_id + '.jpg'), target)


def _mask(source, img_id):
    return cv2.imread(osp.join(source, 'SegmentationClass', img_id + '.png'),
                      cv2.IMREAD_UNCHANGED)


def write_clsloc(root, num_train=24, num_val=6):
    """CLS-LOC layout + the track-3 val list and 0/255 masks."""
    source, items = _synthetic(root, num_train, num_val)
    with open(osp.join(root, 'LOC_synset_mapping.txt'), 'w') as f:
        f.writelines(f'{wnid} thing {k}\n' for k, wnid in enumerate(WNIDS))
    train_lines, val_lines = [], []
    for img_id, k in sorted(items.items()):
        if img_id.startswith('train'):
            stem = f'{WNIDS[k]}/{WNIDS[k]}_{img_id}'
            _jpeg_copy(source, img_id, osp.join(root, 'Data/CLS-LOC/train', stem + '.JPEG'))
            train_lines.append(f'{stem} {len(train_lines) + 1}\n')
        else:
            val_id = f'ILSVRC2012_val_{img_id}'
            _jpeg_copy(source, img_id, osp.join(root, 'Data/CLS-LOC/val', val_id + '.JPEG'))
            mask = np.where(_mask(source, img_id) == k + 1, 255, 0).astype(np.uint8)
            os.makedirs(osp.join(root, 'LID/track3/val'), exist_ok=True)
            cv2.imwrite(osp.join(root, 'LID/track3/val', val_id + '.png'), mask)
            val_lines.append(f'{val_id} {WNIDS[k]}\n')
    os.makedirs(osp.join(root, 'ImageSets/CLS-LOC'), exist_ok=True)
    with open(osp.join(root, 'ImageSets/CLS-LOC/train_cls.txt'), 'w') as f:
        f.writelines(train_lines)
    with open(osp.join(root, 'LID/track3/val.txt'), 'w') as f:
        f.writelines(val_lines)
    shutil.rmtree(source)
    return root


def _xml(wnid):
    return (f'<annotation><folder>x</folder><object><name>{wnid}</name>'
            '<bndbox><xmin>1</xmin></bndbox></object></annotation>\n')


def write_lid200(root, num_train=24, num_val=6, num_test=3):
    """ILSVRC DET layout + LID track-1 lists and masks (0, k + 1, 255 as the toolbox)."""
    source, items = _synthetic(root, num_train, num_val + num_test)
    os.makedirs(osp.join(root, 'LID'), exist_ok=True)
    with open(osp.join(root, 'LID', 'classes.txt'), 'w') as f:
        f.writelines(f'n{k:08d}\n' for k in range(LID_CLASSES))
    train, val, test = [], [], []
    for img_id, k in sorted(items.items()):
        if img_id.startswith('train'):
            stem = f'ILSVRC2013_train/{WNIDS[k]}/{WNIDS[k]}_{img_id}'
            _jpeg_copy(source, img_id, osp.join(root, 'Data/DET/train', stem + '.JPEG'))
            os.makedirs(osp.dirname(osp.join(root, 'Annotations/DET/train', stem)),
                        exist_ok=True)
            with open(osp.join(root, 'Annotations/DET/train', stem + '.xml'), 'w') as f:
                f.write(_xml(WNIDS[k]))
            train.append(f'{stem} {len(train) + 1}\n')
        elif len(val) < num_val:
            stem = f'ILSVRC2013_val_{img_id}'
            _jpeg_copy(source, img_id, osp.join(root, 'Data/DET/val', stem + '.JPEG'))
            os.makedirs(osp.join(root, 'Annotations/DET/val'), exist_ok=True)
            with open(osp.join(root, 'Annotations/DET/val', stem + '.xml'), 'w') as f:
                f.write(_xml(WNIDS[k]))
            os.makedirs(osp.join(root, 'LID/track1/val'), exist_ok=True)
            cv2.imwrite(osp.join(root, 'LID/track1/val', stem + '.png'), _mask(source, img_id))
            val.append(f'{stem}\n')
        else:
            stem = f'ILSVRC2015_test_{img_id}'
            _jpeg_copy(source, img_id, osp.join(root, 'Data/DET/test', stem + '.JPEG'))
            test.append(f'{stem}\n')
    os.makedirs(osp.join(root, 'ImageSets/DET'), exist_ok=True)
    for path, lines in (('ImageSets/DET/train.txt', train), ('LID/track1/val.txt', val),
                        ('LID/track1/test.txt', test)):
        with open(osp.join(root, path), 'w') as f:
            f.writelines(lines)
    shutil.rmtree(source)
    return root


def tiny_classifier_lines(base, num_classes=NUM_CLASSES):
    """Config lines: TinyConvNet instead of VGG-16, ``num_classes`` classes, no workers."""
    return [
        f'_base_ = [{base!r}]',
        f'num_classes = {num_classes}',
        "model = dict(backbone=dict(_delete_=True, type='TinyConvNet', base_channels=8, "
        f"out_indices=(3, )), head=dict(in_channels=32, channels=16, num_classes={num_classes}))",
        f'train_dataloader = {NO_WORKERS}',
        f'val_dataloader = {NO_WORKERS}',
        f'test_dataloader = {NO_WORKERS}',
        'train_cfg = dict(max_epochs=1, val_interval=1)',
        'optim_wrapper = dict(optimizer=dict(lr=0.01))',
    ]


def write_lines(path, lines):
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return str(path)
