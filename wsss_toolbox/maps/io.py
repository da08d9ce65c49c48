"""Localization-map files: one compressed ``<img_id>.npz`` per image (design.md, Stage 2).

A map file holds

* ``img_id`` -- the image id (str),
* ``classes`` -- int64 (K,), the *foreground* class indices present in the image,
* ``maps`` -- float16 (K, H, W) at the original image size, values in [0, 1];
  ``maps[k]`` is the map of class ``classes[k]``;
* optionally ``strided_maps`` -- float16 (K, ceil(H / s), ceil(W / s)) in [0, 1], the same
  classes at a lower resolution (IRN's random walk works at stride 4), with
* ``stride`` -- int64 scalar ``s`` (present exactly when ``strided_maps`` is).

Files are written atomically: the data goes to a temporary file in the destination folder,
which is then renamed onto the final name with :func:`os.replace`, so an interrupted run never
leaves a truncated file under the final name (a resumed run can trust every file it finds).
"""
import os
import os.path as osp
import pickle
import uuid
import zipfile
import zlib
from typing import IO, Callable, Dict, Optional

import numpy as np

MAP_SUFFIX = '.npz'
# float16 rounding and interpolation overshoot are tolerated up to this much outside [0, 1]
_RANGE_TOLERANCE = 1e-3


def atomic_write(path: str, write: Callable[[IO[bytes]], None]) -> None:
    """Write a file atomically: ``write(fileobj)`` fills a temporary sibling file, which is
    then renamed to ``path``. On any error the temporary file is removed and ``path`` is left
    as it was (absent, or its previous complete content).

    Args:
        path: final file path; its folder is created if needed.
        write: callable that writes the whole content into the binary file object it gets.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    # hidden, unique per process and call; same folder, so os.replace is an atomic rename
    tmp_path = osp.join(folder, f'.{osp.basename(path)}.{os.getpid()}-{uuid.uuid4().hex}.tmp')
    try:
        with open(tmp_path, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
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


def _check_values(maps: np.ndarray, name: str, where: str) -> np.ndarray:
    """float16 copy of maps in [0, 1]; NaN/inf or values clearly outside [0, 1] raise."""
    if not np.all(np.isfinite(maps)):
        raise ValueError(f'{where}: {name} contain NaN or inf values.')
    if maps.size and (maps.min() < -_RANGE_TOLERANCE or maps.max() > 1 + _RANGE_TOLERANCE):
        raise ValueError(f'{where}: {name} values must lie in [0, 1], got '
                         f'[{float(maps.min()):.4g}, {float(maps.max()):.4g}]; normalize them '
                         '(e.g. divide each class map by its maximum) before saving.')
    return np.clip(maps, 0, 1).astype(np.float16)


def save_maps(path: str, img_id: str, classes: np.ndarray, maps: np.ndarray,
              strided_maps: Optional[np.ndarray] = None, stride: Optional[int] = None) -> None:
    """Save the localization maps of one image as a compressed ``.npz`` (atomic write).

    Args:
        path: destination file, normally ``map_path(map_dir, img_id)``.
        img_id: image id stored in the file.
        classes: (K,) foreground class indices (0-based, no background) of the maps.
        maps: (K, H, W) float maps at the original image size with values in [0, 1]
            (stored as float16; values within 1e-3 outside [0, 1] are clipped).
        strided_maps: optional (K, ceil(H / stride), ceil(W / stride)) maps of the same
            classes at a lower resolution, values in [0, 1] (stored as float16).
        stride: the integer stride of ``strided_maps``; given exactly when they are.

    Raises:
        ValueError: on shape mismatches, non-integer or negative classes, NaN/inf values,
            values clearly outside [0, 1], or ``strided_maps`` without ``stride`` (or the
            other way round).
    """
    classes = np.asarray(classes)
    maps = np.asarray(maps)
    where = f'save_maps("{path}")'
    _check_maps(classes, maps, where)
    if classes.size and not np.issubdtype(classes.dtype, np.integer):
        if not np.all(np.equal(np.mod(classes, 1), 0)):
            raise ValueError(f'{where}: classes must be integer class indices, got {classes}.')
    classes = classes.astype(np.int64)
    if classes.size and classes.min() < 0:
        raise ValueError(f'{where}: class indices must be >= 0 (foreground classes, '
                         f'background excluded), got {classes.tolist()}.')
    arrays = dict(img_id=np.array(str(img_id)), classes=classes,
                  maps=_check_values(maps, 'maps', where))
    if (strided_maps is None) != (stride is None):
        raise ValueError(f'{where}: give strided_maps and stride together (got '
                         f'strided_maps={"None" if strided_maps is None else "an array"}, '
                         f'stride={stride!r}).')
    if strided_maps is not None:
        stride = _check_stride(stride, where)
        strided_maps = np.asarray(strided_maps)
        _check_strided(maps, strided_maps, stride, where)
        arrays.update(strided_maps=_check_values(strided_maps, 'strided_maps', where),
                      stride=np.array(stride, dtype=np.int64))

    def write(f):
        np.savez_compressed(f, **arrays)

    atomic_write(path, write)


def load_maps(path: str) -> Dict[str, object]:
    """Load a map file written by :func:`save_maps`.

    Returns:
        dict with ``img_id`` (str), ``classes`` (int64 (K,)) and ``maps`` (float32 (K, H, W));
        when the file has strided maps also ``strided_maps`` (float32 (K, ceil(H / s),
        ceil(W / s))) and ``stride`` (int ``s``) -- these keys are absent otherwise.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is corrupt or lacks one of the keys / has inconsistent shapes.
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
    img_id = str(arrays['img_id'])
    classes = arrays['classes'].astype(np.int64)
    maps = arrays['maps'].astype(np.float32)
    _check_maps(classes, maps, where)
    record = dict(img_id=img_id, classes=classes, maps=maps)
    if ('strided_maps' in arrays) != ('stride' in arrays):
        raise ValueError(f'{where} has only one of strided_maps / stride; delete it and '
                         'regenerate the maps.')
    if 'strided_maps' in arrays:
        stride = arrays['stride']
        if stride.shape != () or not np.issubdtype(stride.dtype, np.integer):
            raise ValueError(f'{where}: stride must be an integer scalar, got {stride!r}.')
        stride = _check_stride(stride.item(), where)
        strided_maps = arrays['strided_maps'].astype(np.float32)
        _check_strided(maps, strided_maps, stride, where)
        record.update(strided_maps=strided_maps, stride=stride)
    return record
