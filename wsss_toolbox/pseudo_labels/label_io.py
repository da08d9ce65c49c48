"""Reading images, saliency maps and label masks; writing label PNGs atomically.

Conventions (design.md): images in memory are RGB uint8 HxWx3; saliency PNGs are uint8 0..255
on disk and float32 [0, 1] in memory; label masks are single-channel uint8 PNGs with
0 = background, ``k + 1`` = foreground class ``k`` and 255 = ignore. A missing or undecodable
file is an error naming it. A label folder also holds ``labelled_images.txt``, the ids of the
images stage 2 labelled into it (read by the stage-3 dataset).
"""
import io
import os.path as osp
from typing import List, Optional

import mmcv
import numpy as np
from PIL import Image

from wsss_toolbox.maps.io import atomic_write

IGNORE_INDEX = 255
LABEL_SUFFIX = '.png'
#: the list of the images a label folder covers, written by the stage-2 runner into the folder
#: (one image id per line); the stage-3 dataset skips the images that are not in it (those the
#: image-label dataset skipped: no positive tag) instead of asking to re-run stage 2
LABELLED_IMAGES_FILE = 'labelled_images.txt'


def label_path(label_dir: str, img_id: str) -> str:
    """Path of the label PNG of ``img_id`` (``<label_dir>/<img_id>.png``)."""
    return osp.join(label_dir, f'{img_id}{LABEL_SUFFIX}')


def _require_file(path: str, what: str) -> None:
    if path is None:
        raise ValueError(f'No {what} path given.')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} file "{path}" does not exist.')


def _read(path: str, what: str, **imread_args) -> np.ndarray:
    """``mmcv.imread(path, **imread_args)`` of an existing file; a file that does not decode
    (empty, truncated, not an image) raises ``OSError`` naming it, instead of OpenCV's
    ``!_src.empty()`` or pillow's "cannot identify image file <BytesIO>"."""
    _require_file(path, what)
    try:
        array = mmcv.imread(path, **imread_args)
    except Exception as error:  # cv2.error, PIL.UnidentifiedImageError, OSError ...
        kind = f'{type(error).__module__}.{type(error).__name__}'.replace('builtins.', '')
        raise OSError(f'{what} file "{path}" cannot be decoded: it is empty, truncated or not '
                      f'an image ({kind}). Re-export the file, or remove the image from the '
                      'dataset list.') from error
    if array is None:
        raise OSError(f'{what} file "{path}" cannot be decoded: it is empty, truncated or not '
                      'an image. Re-export the file, or remove the image from the dataset list.')
    return array


def out_of_range_ids(mask, num_classes: int, ignore_index: int = IGNORE_INDEX) -> List[int]:
    """The sorted values of ``mask`` that are neither a class id (``0..num_classes - 1``) nor
    ``ignore_index`` (an empty list for a valid mask). ``mask``: an integer array or a CPU
    tensor. Costs a comparison per pixel; the values are only listed when there are some."""
    mask = np.asarray(mask)
    if mask.size == 0:
        return []
    if mask.dtype == np.uint8:  # masks as read: one pass, every value counted
        values = np.flatnonzero(np.bincount(mask.ravel(), minlength=256))
        return [int(value) for value in values if value >= num_classes and value != ignore_index]
    bad = (mask != ignore_index) & ((mask < 0) | (mask >= num_classes))
    return np.unique(mask[bad]).astype(int).tolist() if bad.any() else []


def class_id_message(path: str, ids: List[int], num_classes: int,
                     ignore_index: int = IGNORE_INDEX, what: str = 'mask',
                     note: str = '') -> str:
    """The error for a mask holding the class ids ``ids`` outside ``0..num_classes - 1``
    (``note`` is added after the ids, e.g. how they were remapped)."""
    shown = ', '.join(str(value) for value in ids[:8]) + (', ...' if len(ids) > 8 else '')
    noun = 'class id' if len(ids) == 1 else 'class ids'
    return (f'{what} {path} holds {noun} {shown}{note}, but the dataset has {num_classes} '
            f'classes (0..{num_classes - 1}) and ignore index {ignore_index}; fix the mask, '
            'or check the class list (background included) and the mask folder')


def check_class_ids(mask, num_classes: int, path: str, ignore_index: int = IGNORE_INDEX,
                    what: str = 'mask') -> None:
    """Raise ``ValueError`` naming ``path``, the offending ids and the number of classes when
    ``mask`` holds a value that is neither a class id (``0..num_classes - 1``) nor
    ``ignore_index``. Evaluators would otherwise drop such pixels silently (mmseg's
    ``IoUMetric`` counts only ids below ``num_classes``) and report a lower mIoU."""
    ids = out_of_range_ids(mask, num_classes, ignore_index)
    if ids:
        raise ValueError(class_id_message(path, ids, num_classes, ignore_index, what))


def write_labelled_images(label_dir: str, img_ids) -> str:
    """Write ``<label_dir>/labelled_images.txt``: the ids of the images the folder labels (one
    per line, atomically). Returns its path."""
    path = osp.join(label_dir, LABELLED_IMAGES_FILE)
    text = ''.join(f'{img_id}\n' for img_id in img_ids)
    atomic_write(path, lambda f: f.write(text.encode('utf-8')))
    return path


def read_labelled_images(label_dir: str):
    """The image ids of ``<label_dir>/labelled_images.txt`` as a set, or None when the folder
    has no such list (labels written by other tools)."""
    path = osp.join(label_dir, LABELLED_IMAGES_FILE)
    if not osp.isfile(path):
        return None
    with open(path, encoding='utf-8') as f:
        return {line.strip() for line in f if line.strip()}


def save_label(path: str, label: np.ndarray) -> None:
    """Write ``label`` (uint8 HxW) as a single-channel (mode 'L') PNG, atomically."""
    label = np.asarray(label)
    if label.ndim != 2 or label.dtype != np.uint8:
        raise ValueError(f'save_label("{path}"): expected a uint8 HxW mask, got '
                         f'{label.dtype} {label.shape}.')
    buffer = io.BytesIO()
    Image.fromarray(label, mode='L').save(buffer, format='PNG')
    atomic_write(path, lambda f: f.write(buffer.getvalue()))


def load_label(path: str, num_classes: Optional[int] = None,
               ignore_index: int = IGNORE_INDEX, what: str = 'mask') -> np.ndarray:
    """Read a label mask as uint8 HxW class indices.

    Uses the pillow backend with ``flag='unchanged'`` (as mmseg's ``LoadAnnotations``), so
    palette PNGs such as VOC's ``SegmentationClass`` give their palette indices.

    Args:
        num_classes: when given, the mask classes (background included): a value other than
            ``0..num_classes - 1`` and ``ignore_index`` raises ``ValueError`` naming the file
            (:func:`check_class_ids`).
        what: how errors name the file (``'mask'``, ``'pseudo label'``).
    """
    label = _read(path, 'Label mask', flag='unchanged', backend='pillow')
    if label.ndim != 2:
        raise ValueError(f'Label mask "{path}" has shape {label.shape}; expected a '
                         'single-channel (grey or palette) PNG of class indices.')
    if num_classes is not None:  # before the cast: a 16-bit 300 must not pass as 44
        check_class_ids(label, num_classes, path, ignore_index, what)
    elif label.dtype != np.uint8 and label.size and (label.min() < 0 or label.max() > 255):
        raise ValueError(f'{what} {path} holds values up to {int(label.max())}; expected an '
                         '8-bit PNG of class indices (0..254, 255 = ignore).')
    return label.astype(np.uint8)


def load_saliency(path: str) -> np.ndarray:
    """Read a uint8 saliency PNG as float32 HxW in [0, 1]."""
    saliency = _read(path, 'Saliency map', flag='grayscale', backend='pillow')
    return saliency.astype(np.float32) / 255.0


def load_rgb_image(path: str) -> np.ndarray:
    """Read an image as RGB uint8 HxWx3 (errors name the file)."""
    return _read(path, 'Image', flag='color', channel_order='rgb')
