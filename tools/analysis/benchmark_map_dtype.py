"""8-bit map files: bytes per image of float16 vs uint8 map files, and how much the 8-bit
rounding changes the pseudo labels (threshold generator, then with DenseCRF), in one run.

    .venv/bin/python tools/analysis/benchmark_map_dtype.py [--work-dir DIR]
        [--num-images 200] [--image-size 128] [--stride 4] [--benchmark-dir DIR] [--seed 0]

Data: ``--benchmark-dir`` = a VOC-layout folder (``JPEGImages``, ``SegmentationClass``,
``ImageSets/Segmentation/train.txt``); otherwise the synthetic benchmark is generated into
``<work-dir>/benchmark``. Nothing is trained: each present class gets a plausible map (its
blurred mask plus smooth noise, rectified, divided by its maximum), and the same float32 maps
are written twice, with ``dtype='float16'`` and ``dtype='uint8'``
(:func:`wsss_toolbox.maps.save_maps`). ``--stride 4`` also stores strided maps (IRN's map
files). Printed: bytes per image (and per stored value) of both, the largest difference of the
maps read back, and per label setting the fraction of pixels whose label differs between the
two folders and each folder's mIoU against the masks.
"""
import argparse
import os.path as osp
import sys
import time
from typing import List, Optional

import cv2
import numpy as np

from wsss_toolbox.evaluation import evaluate_labels
from wsss_toolbox.maps.io import MAP_DTYPES, load_maps, map_path, save_maps, strided_shape
from wsss_toolbox.pseudo_labels import generate_pseudo_labels, load_label

# the shared set-up sits next to this script, which runpy.run_path and importlib load
# without adding this folder to sys.path
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _bench_common import (  # noqa: E402
    count_mask_classes,
    folder_samples,
    plausible_maps,
    synthetic_benchmark,
)

GENERATOR = dict(type='ThresholdLabelGenerator', bg_threshold=0.3)
SETTINGS = (('threshold 0.3', []), ('threshold 0.3 + DenseCRF', [dict(type='DenseCRFRefiner')]))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Map-file size and pseudo-label change of 8-bit maps',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--work-dir', default='work_dirs/benchmark_map_dtype')
    parser.add_argument('--num-images', type=int, default=200)
    parser.add_argument('--image-size', type=int, default=128)
    parser.add_argument('--stride', type=int, help='also store strided maps (IRN: 4)')
    parser.add_argument('--benchmark-dir', help='existing VOC-layout folder to use')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def strided(maps: np.ndarray, stride: int) -> np.ndarray:
    height, width = strided_shape(maps.shape[1], maps.shape[2], stride)
    small = [cv2.resize(class_map, (width, height), interpolation=cv2.INTER_LINEAR)
             for class_map in maps]
    small = np.stack(small) if small else np.zeros((0, height, width), np.float32)
    return small / np.maximum(small.max(axis=(1, 2), keepdims=True), 1e-5)


def write_map_folders(samples: List[dict], work_dir: str, stride: Optional[int],
                      seed: int) -> dict:
    """Both folders from the same maps -> ``{dtype: (folder, bytes, values)}``."""
    rng = np.random.default_rng(seed)
    folders = {dtype: osp.join(work_dir, f'maps_{dtype}') for dtype in MAP_DTYPES}
    sizes = dict.fromkeys(MAP_DTYPES, 0)
    values = 0
    for sample in samples:
        classes, maps = plausible_maps(load_label(sample['seg_map_path']), rng)
        small = None if stride is None else strided(maps, stride)
        values += maps.size + (0 if small is None else small.size)
        for dtype, folder in folders.items():
            path = map_path(folder, sample['img_id'])
            save_maps(path, sample['img_id'], classes, maps, strided_maps=small, stride=stride,
                      dtype=dtype)
            sizes[dtype] += osp.getsize(path)
    return {dtype: (folders[dtype], sizes[dtype], values) for dtype in MAP_DTYPES}


def largest_difference(samples: List[dict], folders: dict) -> float:
    worst = 0.0
    for sample in samples:
        a, b = (load_maps(map_path(folders[dtype], sample['img_id'])) for dtype in MAP_DTYPES)
        if a['maps'].size:
            worst = max(worst, float(np.abs(a['maps'] - b['maps']).max()))
    return worst


def changed_fraction(samples: List[dict], dir_a: str, dir_b: str) -> float:
    changed = total = 0
    for sample in samples:
        a = load_label(osp.join(dir_a, sample['img_id'] + '.png'))
        b = load_label(osp.join(dir_b, sample['img_id'] + '.png'))
        changed += int(np.count_nonzero(a != b))
        total += a.size
    return changed / total


def main() -> None:
    args = parse_args()
    root = args.benchmark_dir or synthetic_benchmark(
        osp.join(args.work_dir, 'benchmark'), args.num_images, args.image_size, args.seed)
    samples = folder_samples(root, 'train', args.num_images)
    start = time.perf_counter()
    written = write_map_folders(samples, args.work_dir, args.stride, args.seed)
    print(f'wrote {len(samples)} x {len(MAP_DTYPES)} map files in '
          f'{time.perf_counter() - start:.1f}s')
    num_classes = count_mask_classes(root, samples)
    height, width = load_label(samples[0]['seg_map_path']).shape
    folders = {dtype: folder for dtype, (folder, _, _) in written.items()}

    strided_text = '' if args.stride is None else f', strided maps at stride {args.stride}'
    print(f'\nmap files of {len(samples)} images of {height}x{width}{strided_text}')
    print(f'{"dtype":>8} {"bytes/image":>12} {"bytes/value":>12} {"vs float16":>11}')
    float16_bytes = written['float16'][1]
    for dtype, (_, size, values) in written.items():
        print(f'{dtype:>8} {size / len(samples):>12.0f} {size / values:>12.3f} '
              f'{size / float16_bytes:>10.1%}')
    print(f'largest |uint8 - float16| of the maps read back: '
          f'{largest_difference(samples, folders):.5f} (1/510 = {1 / 510:.5f})')

    print(f'\n{"labels":>26} {"changed pixels":>15} {"mIoU float16":>13} {"mIoU uint8":>11}')
    for name, refiners in SETTINGS:
        label_dirs, mious = {}, {}
        for dtype in MAP_DTYPES:
            label_dirs[dtype] = osp.join(args.work_dir, f'labels_{dtype}_{len(refiners)}')
            generate_pseudo_labels(samples, folders[dtype], label_dirs[dtype], GENERATOR,
                                   refiners, overwrite=True, progress=False)
            mious[dtype] = evaluate_labels(samples, label_dirs[dtype],
                                           num_classes)['metrics']['mIoU']
        change = changed_fraction(samples, label_dirs['float16'], label_dirs['uint8'])
        print(f'{name:>26} {change:>15.4%} {100 * mious["float16"]:>13.2f} '
              f'{100 * mious["uint8"]:>11.2f}')


if __name__ == '__main__':
    main()
