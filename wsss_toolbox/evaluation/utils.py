"""Helpers shared by the dataset-level evaluators."""
import functools
import multiprocessing
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

from mmengine.utils import ProgressBar

from wsss_toolbox.pseudo_labels.label_io import load_label


def _add(total, value):
    if total is None:
        return value
    if isinstance(value, tuple):
        return tuple(_add(part_total, part) for part_total, part in zip(total, value))
    return total + value


def _sum_chunk(func: Callable, chunk: Sequence):
    total = None
    for item in chunk:
        total = _add(total, func(item))
    return total


def _imap(func: Callable, tasks: List, nproc: int) -> Iterator:
    """``func(task)`` for each task, in order, as each finishes (``nproc`` processes)."""
    if nproc <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield func(task)
        return
    with multiprocessing.Pool(min(nproc, len(tasks))) as pool:
        yield from pool.imap(func, tasks)


def parallel_sum(func: Callable, samples: Sequence, nproc: int = 1, progress: bool = False,
                 chunk_size: int = 16) -> Tuple[object, int]:
    """Sum of ``func(sample)`` over ``samples`` (arrays, numbers or tuples of them), computed
    in chunks inside the workers so only one partial sum per chunk travels between processes
    and memory does not grow with the dataset. Returns ``(total or None, number of samples)``.

    With ``progress`` an mmengine ``ProgressBar`` counts the samples (images), advancing by
    a chunk's size as each chunk's sum arrives.
    """
    samples = list(samples)
    chunks = [samples[start:start + chunk_size] for start in range(0, len(samples), chunk_size)]
    bar = ProgressBar(len(samples)) if progress and samples else None
    total = None
    for index, partial in enumerate(_imap(functools.partial(_sum_chunk, func), chunks, nproc)):
        total = _add(total, partial)
        if bar is not None:
            bar.update(len(chunks[index]))
    if bar is not None:
        bar.file.write('\n')  # as mmengine's track_* helpers end their bar
        bar.file.flush()
    return total, len(samples)


def load_ground_truth(sample: dict, num_classes: Optional[int] = None,
                      ignore_index: int = 255):
    """The ground-truth mask of a sample (``seg_map_path``), with a clear error if absent;
    with ``num_classes`` (background included) a value other than a class id and
    ``ignore_index`` is an error naming the file (see ``label_io.check_class_ids``)."""
    path = sample.get('seg_map_path')
    if not path:
        raise ValueError(f'Sample "{sample.get("img_id")}" has no `seg_map_path`: evaluation '
                         'needs ground-truth masks; give the dataset its mask folder.')
    return load_label(path, num_classes, ignore_index)


def check_same_size(gt, height: int, width: int, gt_path: str, other_path: str) -> None:
    if gt.shape != (height, width):
        raise ValueError(f'Ground truth "{gt_path}" is {gt.shape[0]}x{gt.shape[1]} but '
                         f'"{other_path}" is {height}x{width}; both must be at the original '
                         'image size.')
