"""A tiny synthetic benchmark (VOC layout, 3 classes, 32x32 images) and map files made from its
masks: real inputs for the tests that give the tools and datasets bad files."""
import os.path as osp
from typing import Dict, List

import mmcv
import numpy as np

from wsss_toolbox.datasets.synthetic_benchmark import generate_synthetic_benchmark
from wsss_toolbox.maps import map_path, save_maps


def write_tiny_benchmark(root: str, num_train: int = 6, num_val: int = 2) -> str:
    """``root`` with JPEGImages, SegmentationClass, Saliency, ImageSets/Segmentation,
    classes.txt and cls_labels.txt (train_00000: classes 0 and 1; train_00001: class 0)."""
    generate_synthetic_benchmark(root, num_train=num_train, num_val=num_val, image_size=32,
                                 num_classes=3, num_workers=1)
    return root


def image_tags(root: str) -> Dict[str, List[int]]:
    """``{img_id: foreground class indices}`` from the benchmark's cls_labels.txt."""
    with open(osp.join(root, 'classes.txt')) as f:
        classes = [line.split()[0] for line in f if line.strip()]
    tags = {}
    with open(osp.join(root, 'cls_labels.txt')) as f:
        for line in f:
            img_id, *names = line.split()
            tags[img_id] = sorted(classes.index(name) for name in names)
    return tags


def write_gt_maps(root: str, map_dir: str, split: str = 'train') -> List[str]:
    """Good map files (0.95 on the object, 0.05 elsewhere) of every tagged image of ``split``,
    made from the ground-truth masks; returns the image ids."""
    written = []
    for img_id, classes in image_tags(root).items():
        if not img_id.startswith(split) or not classes:
            continue
        gt = mmcv.imread(osp.join(root, 'SegmentationClass', f'{img_id}.png'),
                         flag='unchanged', backend='pillow')
        maps = np.stack([(gt == cls + 1) * 0.9 + 0.05 for cls in classes]).astype(np.float32)
        save_maps(map_path(map_dir, img_id), img_id, np.array(classes, np.int64), maps)
        written.append(img_id)
    return written


def dataset_cfg(root: str, split: str = 'train') -> dict:
    return dict(type='SyntheticWSSSDataset', data_root=root, split=split)


def write_stage2_config(path: str, root: str, map_dir: str, label_dir: str,
                        generator: str = "dict(type='ThresholdLabelGenerator', bg_threshold=0.3)",
                        refiners: str = '[]') -> str:
    """A tools/make_pseudo_labels.py config for the benchmark's training images."""
    with open(path, 'w') as f:
        f.write(f'dataset = {dataset_cfg(root)!r}\n'
                f'map_dir = {map_dir!r}\n'
                f'label_dir = {label_dir!r}\n'
                f'generator = {generator}\n'
                f'refiners = {refiners}\n')
    return path


def rewrite_map_file(path: str, **changes) -> None:
    """Rewrite a map file with some arrays replaced, bypassing ``save_maps``' checks (the way
    a foreign tool or a hand edit would write it)."""
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    arrays.update(changes)
    np.savez_compressed(path, **arrays)
