"""Reading images, saliency maps and label masks; writing label PNGs atomically.

Conventions (design.md): images in memory are RGB uint8 HxWx3; saliency PNGs are uint8 0..255
on disk and float32 [0, 1] in memory; label masks are single-channel uint8 PNGs with
0 = background, ``k + 1`` = foreground class ``k`` and 255 = ignore.
"""
import io
import os.path as osp

import mmcv
import numpy as np
from PIL import Image

from wsss_toolbox.maps.io import atomic_write

IGNORE_INDEX = 255
LABEL_SUFFIX = '.png'


def label_path(label_dir: str, img_id: str) -> str:
    """Path of the label PNG of ``img_id`` (``<label_dir>/<img_id>.png``)."""
    return osp.join(label_dir, f'{img_id}{LABEL_SUFFIX}')


def _require_file(path: str, what: str) -> None:
    if path is None:
        raise ValueError(f'No {what} path given.')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} file "{path}" does not exist.')


def save_label(path: str, label: np.ndarray) -> None:
    """Write ``label`` (uint8 HxW) as a single-channel (mode 'L') PNG, atomically."""
    label = np.asarray(label)
    if label.ndim != 2 or label.dtype != np.uint8:
        raise ValueError(f'save_label("{path}"): expected a uint8 HxW mask, got '
                         f'{label.dtype} {label.shape}.')
    buffer = io.BytesIO()
    Image.fromarray(label, mode='L').save(buffer, format='PNG')
    atomic_write(path, lambda f: f.write(buffer.getvalue()))


def load_label(path: str) -> np.ndarray:
    """Read a label mask as uint8 HxW class indices.

    Uses the pillow backend with ``flag='unchanged'`` (as mmseg's ``LoadAnnotations``), so
    palette PNGs such as VOC's ``SegmentationClass`` give their palette indices.
    """
    _require_file(path, 'Label mask')
    label = mmcv.imread(path, flag='unchanged', backend='pillow')
    if label.ndim != 2:
        raise ValueError(f'Label mask "{path}" has shape {label.shape}; expected a '
                         'single-channel (grey or palette) PNG of class indices.')
    return label.astype(np.uint8)


def load_saliency(path: str) -> np.ndarray:
    """Read a uint8 saliency PNG as float32 HxW in [0, 1]."""
    _require_file(path, 'Saliency map')
    saliency = mmcv.imread(path, flag='grayscale', backend='pillow')
    return saliency.astype(np.float32) / 255.0


def load_rgb_image(path: str) -> np.ndarray:
    """Read an image as RGB uint8 HxWx3."""
    _require_file(path, 'Image')
    return mmcv.imread(path, flag='color', channel_order='rgb')
