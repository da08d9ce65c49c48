"""Localization-map files: one compressed ``<img_id>.npz`` per image (design.md, Stage 2).

A map file holds

* ``img_id`` -- the image id (str),
* ``classes`` -- int64 (K,), the *foreground* class indices present in the image,
* ``maps`` -- float16 (K, H, W) at the original image size, values in [0, 1];
  ``maps[k]`` is the map of class ``classes[k]``;
* optionally ``strided_maps`` -- float16 (K, ceil(H / s), ceil(W / s)) in [0, 1], the same
  classes at a lower resolution (IRN's random walk works at stride 4), with
* ``stride`` -- int64 scalar ``s`` (present exactly when ``strided_maps`` is).

**8-bit maps.** ``save_maps(..., dtype='uint8')`` stores ``maps`` and ``strided_maps`` as uint8
``round(map * 255)`` instead of float16: a step of 1/255 (error at most 1/510) against
float16's 1/2048 near 1, for a file less than half the size (compressed uint8 maps of smooth
maps; figures in ``docs/benchmarks.md``, "8-bit map files"). Every writer saves maps already
normalised to [0, 1] (:func:`save_maps` refuses others), so one fixed scale serves all files
and no per-class scale is stored. :func:`load_maps` reads a uint8 array as ``value / 255``:
both kinds come back as float32 in [0, 1].

Files are written atomically: the data goes to a temporary file in the destination folder,
which is then renamed onto the final name with :func:`os.replace`, so an interrupted run never
leaves a truncated file under the final name (a resumed run can trust every file it finds).

:func:`load_maps` checks what it reads as :func:`save_maps` checks what it writes (a file may
come from another tool or a hand edit): finite values in [0, 1] (float16 tolerance), distinct
non-negative classes, and -- given the reader's image -- the file's ``img_id`` and classes
among the image's tags. Every error names the file.
"""
import errno
import os
import os.path as osp
import pickle
import uuid
import zipfile
import zlib
from typing import IO, Callable, Dict, Optional

import numpy as np

MAP_SUFFIX = '.npz'
#: what a map file can store its maps as (``save_maps(..., dtype=...)``); float16 by default
MAP_DTYPES = ('float16', 'uint8')
DEFAULT_MAP_DTYPE = 'float16'
# uint8 maps hold round(map * _UINT8_SCALE)
_UINT8_SCALE = 255
# float16 rounding and interpolation overshoot are tolerated up to this much outside [0, 1]
_RANGE_TOLERANCE = 1e-3


# errno values that mean "the disk (or the user's quota on it) is full"
_DISK_FULL = {code: reason for code, reason in (
    (errno.ENOSPC, 'the disk holding it is full'),
    (getattr(errno, 'EDQUOT', None), 'the disk quota there is used up')) if code is not None}


def disk_full_error(error: BaseException, path: str) -> Optional[OSError]:
    """For an ``OSError`` that says the disk is full (ENOSPC, EDQUOT): an ``OSError`` of the
    same errno whose message names ``path`` and its folder (the system's message names
    neither); None for any other error."""
    if not isinstance(error, OSError) or error.errno not in _DISK_FULL:
        return None
    folder = osp.dirname(osp.abspath(path))
    return OSError(error.errno, f'{os.strerror(error.errno)} while writing "{path}": '
                   f'{_DISK_FULL[error.errno]} (folder "{folder}"). Free space there or '
                   'write to another folder; no partial file was left under that name.')


def atomic_write(path: str, write: Callable[[IO[bytes]], None]) -> None:
    """Write a file atomically: ``write(fileobj)`` fills a temporary sibling file, which is
    then renamed to ``path``. On any error the temporary file is removed and ``path`` is left
    as it was (absent, or its previous complete content).

    Args:
        path: final file path; its folder is created if needed.
        write: callable that writes the whole content into the binary file object it gets.

    Raises:
        OSError: a full disk (ENOSPC) or quota (EDQUOT), with a message naming ``path`` and
            its folder (see :func:`disk_full_error`); any other error as raised.
    """
    folder = osp.dirname(osp.abspath(path))
    # hidden, unique per process and call; same folder, so os.replace is an atomic rename
    tmp_path = osp.join(folder, f'.{osp.basename(path)}.{os.getpid()}-{uuid.uuid4().hex}.tmp')
    try:
        os.makedirs(folder, exist_ok=True)
        with open(tmp_path, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException as error:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        full = disk_full_error(error, path)
        if full is not None:
            raise full from error
        raise


def map_path(map_dir: str, img_id: str) -> str:
    """Path of the map file of ``img_id`` inside ``map_dir`` (``<map_dir>/<img_id>.npz``)."""
    return osp.join(map_dir, f'{img_id}{MAP_SUFFIX}')


def _check_maps(classes: np.ndarray, maps: np.ndarray, where: str) -> None:
    if maps.ndim != 3:
        raise ValueError(f'{where}: maps must be 3-D (K, H, W), got shape {maps.shape}.')
    if classes.ndim != 1:
        raise ValueError(f'{where}: classes must be 1-D (K,), got shape {classes.shape}.')
    if classes.shape[0] != maps.shape[0]:
        raise ValueError(f'{where}: {classes.shape[0]} classes but {maps.shape[0]} maps; '
                         'there must be one map per class in `classes`.')


def strided_shape(height: int, width: int, stride: int) -> tuple:
    """(ceil(height / stride), ceil(width / stride)): the size of maps at ``stride``."""
    return -(-int(height) // int(stride)), -(-int(width) // int(stride))


def _check_stride(stride, where: str) -> int:
    if isinstance(stride, (bool, np.bool_)) or not isinstance(stride, (int, np.integer)) \
            or stride < 1:
        raise ValueError(f'{where}: stride must be an integer >= 1, got {stride!r}.')
    return int(stride)


def _check_strided(maps: np.ndarray, strided_maps: np.ndarray, stride: int, where: str) -> None:
    expected = (maps.shape[0], *strided_shape(maps.shape[1], maps.shape[2], stride))
    if strided_maps.shape != expected:
        raise ValueError(f'{where}: strided_maps have shape {strided_maps.shape} but maps of '
                         f'shape {maps.shape} at stride {stride} need {expected} '
                         '(K, ceil(H / stride), ceil(W / stride)).')


def check_map_dtype(dtype: str, where: str = 'map_dtype') -> str:
    """``dtype`` if it is one of :data:`MAP_DTYPES`, else a ``ValueError`` naming ``where``."""
    if dtype not in MAP_DTYPES:
        raise ValueError(f'{where} must be one of {MAP_DTYPES}, got {dtype!r} (uint8: 8-bit '
                         'maps, about half the file size of float16).')
    return dtype


def _check_values(maps: np.ndarray, name: str, where: str,
                  dtype: str = DEFAULT_MAP_DTYPE) -> np.ndarray:
    """Copy of maps in [0, 1] as stored (float16, or uint8 ``round(map * 255)``); NaN/inf or
    values clearly outside [0, 1] raise."""
    if not np.all(np.isfinite(maps)):
        raise ValueError(f'{where}: {name} contain NaN or inf values.')
    if maps.size and (maps.min() < -_RANGE_TOLERANCE or maps.max() > 1 + _RANGE_TOLERANCE):
        raise ValueError(f'{where}: {name} values must lie in [0, 1], got '
                         f'[{float(maps.min()):.4g}, {float(maps.max()):.4g}]; normalize them '
                         '(e.g. divide each class map by its maximum) before saving.')
    maps = np.clip(maps, 0, 1)
    if dtype == 'uint8':
        return np.rint(maps.astype(np.float32) * _UINT8_SCALE).astype(np.uint8)
    return maps.astype(np.float16)


def save_maps(path: str, img_id: str, classes: np.ndarray, maps: np.ndarray,
              strided_maps: Optional[np.ndarray] = None, stride: Optional[int] = None,
              dtype: str = DEFAULT_MAP_DTYPE) -> None:
    """Save the localization maps of one image as a compressed ``.npz`` (atomic write).

    Args:
        path: destination file, normally ``map_path(map_dir, img_id)``.
        img_id: image id stored in the file.
        classes: (K,) foreground class indices (0-based, no background) of the maps.
        maps: (K, H, W) float maps at the original image size with values in [0, 1]
            (stored as ``dtype``; values within 1e-3 outside [0, 1] are clipped).
        strided_maps: optional (K, ceil(H / stride), ceil(W / stride)) maps of the same
            classes at a lower resolution, values in [0, 1] (stored as ``dtype``).
        stride: the integer stride of ``strided_maps``; given exactly when they are.
        dtype: how the maps are stored: ``'float16'`` (default) or ``'uint8'`` (``round(map *
            255)``, about half the file size; module docstring). :func:`load_maps` reads both.

    Raises:
        ValueError: on shape mismatches, non-integer or negative classes, NaN/inf values,
            values clearly outside [0, 1], ``strided_maps`` without ``stride`` (or the
            other way round), or an unknown ``dtype``.
    """
    classes = np.asarray(classes)
    maps = np.asarray(maps)
    where = f'save_maps("{path}")'
    check_map_dtype(dtype, f'{where}: dtype')
    _check_maps(classes, maps, where)
    if classes.size and not np.issubdtype(classes.dtype, np.integer):
        if not np.all(np.equal(np.mod(classes, 1), 0)):
            raise ValueError(f'{where}: classes must be integer class indices, got {classes}.')
    classes = classes.astype(np.int64)
    if classes.size and classes.min() < 0:
        raise ValueError(f'{where}: class indices must be >= 0 (foreground classes, '
                         f'background excluded), got {classes.tolist()}.')
    arrays = dict(img_id=np.array(str(img_id)), classes=classes,
                  maps=_check_values(maps, 'maps', where, dtype))
    if (strided_maps is None) != (stride is None):
        raise ValueError(f'{where}: give strided_maps and stride together (got '
                         f'strided_maps={"None" if strided_maps is None else "an array"}, '
                         f'stride={stride!r}).')
    if strided_maps is not None:
        stride = _check_stride(stride, where)
        strided_maps = np.asarray(strided_maps)
        _check_strided(maps, strided_maps, stride, where)
        arrays.update(strided_maps=_check_values(strided_maps, 'strided_maps', where, dtype),
                      stride=np.array(stride, dtype=np.int64))

    def write(f):
        np.savez_compressed(f, **arrays)

    atomic_write(path, write)


def tag_indices(tags) -> np.ndarray:
    """Sorted int64 foreground class indices of an image's tags: a multi-hot vector (bool or
    float, e.g. a dataset item's ``gt_label``: the indices of its positive entries) or a
    sequence of integer class indices."""
    array = np.asarray(tags).reshape(-1)
    if array.dtype == np.bool_ or np.issubdtype(array.dtype, np.floating):
        return np.flatnonzero(array > 0).astype(np.int64)
    if array.size == 0:
        return np.zeros(0, np.int64)
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f'tags must be a multi-hot vector or integer class indices, got '
                        f'{array.dtype} {array.tolist()}.')
    return np.unique(array.astype(np.int64))


def _stored_to_float(stored: np.ndarray) -> np.ndarray:
    """float32 values of a stored map array: uint8 arrays hold ``round(map * 255)``."""
    if stored.dtype == np.uint8:
        return stored.astype(np.float32) / _UINT8_SCALE
    return stored.astype(np.float32)


def _check_loaded_values(maps: np.ndarray, name: str, where: str) -> np.ndarray:
    """``maps`` clipped to [0, 1]; NaN/inf or values clearly outside [0, 1] raise, saying
    where the first bad value is."""
    bad = ~np.isfinite(maps)
    if bad.any():
        position = [int(index) for index in np.argwhere(bad)[0]]
        num_nan = int(np.isnan(maps).sum())
        counts = ' and '.join(f'{count} {kind}' for count, kind in
                              ((num_nan, 'NaN'), (int(bad.sum()) - num_nan, 'inf')) if count)
        raise ValueError(f'{where}: {name} contain {counts} value(s) (the first at [class '
                         f'slot, y, x] = {position}); the file was not written '
                         'by wsss_toolbox.maps.save_maps (which refuses such values). Delete it '
                         'and regenerate the maps.')
    if maps.size and (maps.min() < -_RANGE_TOLERANCE or maps.max() > 1 + _RANGE_TOLERANCE):
        raise ValueError(f'{where}: {name} values must lie in [0, 1], got '
                         f'[{float(maps.min()):.4g}, {float(maps.max()):.4g}]; the file was '
                         'not written by wsss_toolbox.maps.save_maps. Normalize the maps (e.g. '
                         'divide each class map by its maximum) and save them again.')
    return np.clip(maps, 0, 1)


def load_maps(path: str, img_id: Optional[str] = None, tags=None) -> Dict[str, object]:
    """Load and check a map file written by :func:`save_maps` (float16 or 8-bit maps: both
    are returned as float32).

    Args:
        path: the ``.npz`` file.
        img_id: the image the caller reads the file for; when given, the file's ``img_id``
            must be the same (a map folder of another dataset, or a file copied onto another
            image's name, is an error).
        tags: the image's tags -- its multi-hot ``gt_label`` (bool / float) or its foreground
            class indices (integers); when given, every class of the file must be one of
            them (maps of a class the image is not tagged with would become labels of it).

    Returns:
        dict with ``img_id`` (str), ``classes`` (int64 (K,)) and ``maps`` (float32 (K, H, W)
        in [0, 1]); when the file has strided maps also ``strided_maps`` (float32 (K,
        ceil(H / s), ceil(W / s)) in [0, 1]) and ``stride`` (int ``s``) -- these keys are
        absent otherwise.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: naming the file: it is corrupt or lacks one of the keys, has inconsistent
            shapes, repeated or negative classes, NaN/inf values or values outside [0, 1]
            (beyond float16 rounding), belongs to another image than ``img_id``, or holds a
            class that is not among ``tags``.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'Map file "{path}" does not exist. Run stage-2 map inference for this image '
            'first, or point `map_dir` at the folder that holds the .npz map files.')
    try:
        loaded = np.load(path, allow_pickle=False)
        if not hasattr(loaded, 'files'):  # a bare .npy array, not an .npz archive
            raise ValueError('it holds a single array, not an .npz archive')
        with loaded as data:
            arrays = {key: data[key] for key in data.files}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
            pickle.UnpicklingError) as error:
        raise ValueError(f'Map file "{path}" is corrupt or not an .npz file ({error}); '
                         'delete it and regenerate the maps.') from error
    missing = {'img_id', 'classes', 'maps'} - set(arrays)
    if missing:
        raise ValueError(f'Map file "{path}" lacks the key(s) {sorted(missing)} (has '
                         f'{sorted(arrays)}); it was not written by '
                         'wsss_toolbox.maps.save_maps. Delete it and regenerate the maps.')
    where = f'Map file "{path}"'
    file_img_id = str(arrays['img_id'])
    if img_id is not None and file_img_id != str(img_id):
        raise ValueError(f'{where} belongs to image "{file_img_id}", not "{img_id}": the map '
                         'folder does not match the dataset, or the file was copied onto '
                         'another image\'s name. Point the map folder at the maps of this '
                         'dataset, or delete the file and regenerate the maps.')
    classes = arrays['classes']
    if classes.size and not np.issubdtype(classes.dtype, np.integer):
        raise ValueError(f'{where}: classes must be integer class indices, got '
                         f'{classes.dtype} {classes.tolist()}; regenerate the maps.')
    classes = classes.astype(np.int64)
    maps = _stored_to_float(arrays['maps'])
    _check_maps(classes, maps, where)
    if classes.size and (classes.min() < 0 or len(np.unique(classes)) != len(classes)):
        raise ValueError(f'{where}: classes must be distinct foreground class indices >= 0, '
                         f'got {classes.tolist()}; regenerate the maps.')
    if tags is not None:
        tagged = tag_indices(tags)
        extra = sorted(set(classes.tolist()) - set(tagged.tolist()))
        if extra:
            raise ValueError(
                f'{where} holds maps of class(es) {extra}, but image "{file_img_id}" is tagged '
                f'only with {tagged.tolist()} (foreground class indices): its labels would '
                'contain classes the image does not have. The maps come from other image '
                'labels (another label file or dataset); regenerate them from this dataset.')
    maps = _check_loaded_values(maps, 'maps', where)
    record = dict(img_id=file_img_id, classes=classes, maps=maps)
    if ('strided_maps' in arrays) != ('stride' in arrays):
        raise ValueError(f'{where} has only one of strided_maps / stride; delete it and '
                         'regenerate the maps.')
    if 'strided_maps' in arrays:
        stride = arrays['stride']
        if stride.shape != () or not np.issubdtype(stride.dtype, np.integer):
            raise ValueError(f'{where}: stride must be an integer scalar, got {stride!r}.')
        stride = _check_stride(stride.item(), where)
        strided_maps = _stored_to_float(arrays['strided_maps'])
        _check_strided(maps, strided_maps, stride, where)
        record.update(strided_maps=_check_loaded_values(strided_maps, 'strided_maps', where),
                      stride=stride)
    return record
