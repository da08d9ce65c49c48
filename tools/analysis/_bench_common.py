"""Set-up shared by the stage-2 benchmarks (``benchmark_stage2.py``, ``benchmark_map_dtype.py``):
the synthetic benchmark they run on, its samples, plausible class maps made from the masks
(nothing is trained) and the number of mask classes."""
import json
import os.path as osp
from dataclasses import asdict
from typing import List, Optional, Tuple

import cv2
import numpy as np

from wsss_toolbox.datasets.synthetic_benchmark import generate_synthetic_benchmark
from wsss_toolbox.datasets.synthetic_benchmark.generator import (
    SUMMARY_FILE,
    resolve_benchmark_config,
)
from wsss_toolbox.pipeline.fingerprint import canonical
from wsss_toolbox.pseudo_labels import load_label, samples_from_folders


def synthetic_benchmark(root: str, num_images: int, image_size: int, seed: int) -> str:
    """``root`` holding the synthetic benchmark of ``num_images`` training images (no val):
    generated unless its ``benchmark.json`` already records these options (the generator's
    output is a function of them, so a rerun reuses it)."""
    wanted = canonical(asdict(resolve_benchmark_config(
        num_train=num_images, num_val=0, image_size=image_size, seed=seed)))
    summary = osp.join(root, SUMMARY_FILE)
    if osp.isfile(summary):
        with open(summary) as f:
            if canonical(json.load(f).get('config')) == wanted:
                return root
    generate_synthetic_benchmark(root, num_train=num_images, num_val=0, image_size=image_size,
                                 seed=seed)
    return root


def folder_samples(root: str, split: str = 'train',
                   num_images: Optional[int] = None) -> List[dict]:
    """Samples of a VOC-layout folder (``JPEGImages``, ``SegmentationClass``, optional
    ``Saliency``, ``ImageSets/Segmentation/<split>.txt``); the first ``num_images`` (all
    with None or 0)."""
    saliency_dir = osp.join(root, 'Saliency')
    samples = samples_from_folders(
        osp.join(root, 'JPEGImages'), osp.join(root, 'ImageSets', 'Segmentation', f'{split}.txt'),
        seg_dir=osp.join(root, 'SegmentationClass'),
        saliency_dir=saliency_dir if osp.isdir(saliency_dir) else None)
    return samples[:num_images] if num_images else samples


def plausible_maps(gt: np.ndarray, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """``(classes, float32 (K, H, W) maps in [0, 1])``: per class present in the mask ``gt``
    its blurred mask plus low-frequency noise, rectified and divided by its maximum."""
    height, width = gt.shape
    classes = [int(value) - 1 for value in np.unique(gt) if 0 < value < 255]
    maps = []
    for cls in classes:
        blurred = cv2.GaussianBlur((gt == cls + 1).astype(np.float32), (0, 0),
                                   max(height, width) / 30)
        noise = cv2.resize(rng.normal(0, 0.25, (8, 8)).astype(np.float32), (width, height),
                           interpolation=cv2.INTER_CUBIC)
        class_map = np.maximum(blurred + noise, 0)
        maps.append(class_map / max(float(class_map.max()), 1e-6))
    stack = np.stack(maps) if maps else np.zeros((0, height, width), np.float32)
    return np.array(classes, np.int64), stack.astype(np.float32)


def count_mask_classes(root: str, samples: List[dict]) -> int:
    """Mask classes, background included: from ``<root>/classes.txt`` (one foreground class
    a line), else the largest mask value other than 255, plus 1."""
    class_file = osp.join(root, 'classes.txt')
    if osp.isfile(class_file):
        with open(class_file) as f:
            return 1 + sum(1 for line in f if line.strip())
    largest = 0
    for sample in samples:
        gt = load_label(sample['seg_map_path'])
        largest = max(largest, int(gt[gt != 255].max(initial=0)))
    return largest + 1
