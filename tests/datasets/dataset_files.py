"""Helpers that write tiny dataset fixtures (images, masks, saliency) into tmp_path.

Import ``wsss_scope`` into a test module to run its tests under the ``wsss_toolbox`` default scope.
"""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from PIL import Image

import wsss_toolbox.datasets  # noqa: F401  (registers the datasets and transforms)


@pytest.fixture(autouse=True)
def wsss_scope():
    """Unprefixed config names resolve in wsss_toolbox, then in mmseg (as under the Runner)."""
    init_default_scope('wsss_toolbox')


def write_image(path: str, height: int = 12, width: int = 16, seed: int = 0) -> np.ndarray:
    """A random BGR image written as JPEG/PNG (by extension); returns the written array."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    assert cv2.imwrite(path, image)
    return image


def write_mask(path: str, mask: np.ndarray, palette: bool = False) -> None:
    """A class-index mask PNG: grayscale, or VOC-style palette ('P' mode) when asked."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    mask = mask.astype(np.uint8)
    if palette:
        image = Image.new('P', (mask.shape[1], mask.shape[0]))
        image.putpalette(np.random.default_rng(0).integers(0, 256, 768).tolist())
        image.putdata(mask.ravel().tolist())
    else:
        image = Image.fromarray(mask)
    image.save(path)


def write_text(path: str, lines) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def two_class_mask(height: int, width: int, first: int, second: int = 0) -> np.ndarray:
    """Mask with class value ``first`` on the left half, ``second`` in a lower-right block, a
    255 border (VOC style)."""
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[:, :width // 2] = first
    if second:
        mask[height // 2:, 3 * width // 4:] = second
    mask[0, :] = 255
    return mask
