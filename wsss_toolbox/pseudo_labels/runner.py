"""Stage-2b runner: map files -> label generator -> refiners -> pseudo-label PNGs.

``generate_pseudo_labels`` is resumable (existing PNGs are skipped unless ``overwrite``),
writes every PNG atomically, runs ``nproc`` worker processes (each builds its own generator
and refiners from the config dicts) and, under ``torch.distributed``, gives rank ``r`` of
``W`` the samples ``samples[r::W]``. With ``nproc`` > 1 the first image runs in this process
and its peak memory caps the workers to those that fit in memory (:mod:`.worker_memory`).
"""
import multiprocessing
import os
import os.path as osp
import time
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.utils import track_parallel_progress, track_progress

from wsss_toolbox.maps.io import load_maps, map_path
from wsss_toolbox.registry import LABEL_GENERATORS, REFINERS

from .label_io import (
    IGNORE_INDEX,
    label_path,
    load_rgb_image,
    load_saliency,
    save_label,
    write_labelled_images,
)
from .worker_memory import cap_workers, run_first_task

ComponentCfg = Union[dict, Callable]

# state of the current (worker) process, filled by _init_worker
_WORKER: Dict[str, object] = {}


def build_label_generator(generator: ComponentCfg) -> Callable:
    """Build a generator from a ``LABEL_GENERATORS`` config dict (callables pass through)."""
    if isinstance(generator, dict):
        # lazy: this module is part of the package it imports (registration in fresh processes)
        import wsss_toolbox.pseudo_labels  # noqa: F401
        return LABEL_GENERATORS.build(dict(generator))
    if callable(generator):
        return generator
    raise TypeError(f'generator must be a config dict or a callable, got {type(generator)}.')


def build_refiners(refiners: Optional[Sequence[ComponentCfg]]) -> List[Callable]:
    """Build a list of refiners from ``REFINERS`` config dicts (callables pass through)."""
    if refiners is None:
        return []
    if isinstance(refiners, dict) or callable(refiners):
        refiners = [refiners]
    built = []
    for refiner in refiners:
        if isinstance(refiner, dict):
            import wsss_toolbox.pseudo_labels  # noqa: F401  (as above)
            built.append(REFINERS.build(dict(refiner)))
        elif callable(refiner):
            built.append(refiner)
        else:
            raise TypeError(f'each refiner must be a config dict or a callable, got '
                            f'{type(refiner)}.')
    return built


DEFAULT_GENERATOR = dict(type='ThresholdLabelGenerator', bg_threshold=0.3)


def make_pseudo_label(maps: np.ndarray, classes: Sequence[int],
                      image: Union[None, str, np.ndarray],
                      generator: ComponentCfg = DEFAULT_GENERATOR,
                      refiners: Sequence[ComponentCfg] = (),
                      saliency: Union[None, str, np.ndarray] = None) -> np.ndarray:
    """Pseudo label of one image from its maps: the generator, then the refiners in order.

    Args:
        maps: float (K, H, W) maps in [0, 1] at the image size (a map file's ``maps``).
        classes: (K,) foreground class indices of the maps.
        image: RGB uint8 (H, W, 3), or its path (read as RGB), or None when no component
            needs it (DenseCRF does).
        generator: a ``LABEL_GENERATORS`` config dict or a built generator (any callable).
        refiners: ``REFINERS`` config dicts or built refiners, applied in order.
        saliency: float (H, W) in [0, 1], or the path of a uint8 saliency PNG, for the
            saliency-guided generators.

    Returns:
        uint8 (H, W): 0 = background, ``k + 1`` = class ``k``, 255 = ignore.
    """
    generator = build_label_generator(generator)
    refiners = build_refiners(refiners)
    if isinstance(image, (str, os.PathLike)):
        image = load_rgb_image(os.fspath(image))
    if isinstance(saliency, (str, os.PathLike)):
        saliency = load_saliency(os.fspath(saliency))
    return _apply_components(maps, classes, image, saliency, generator, refiners)


def _apply_components(maps: np.ndarray, classes: Sequence[int], image: Optional[np.ndarray],
                      saliency: Optional[np.ndarray], generator: Callable,
                      refiners: Sequence[Callable], img_id: Optional[str] = None) -> np.ndarray:
    shape = tuple(np.shape(maps)[1:])
    label = generator(maps, classes, image=image, saliency=saliency)
    _check_output(label, generator, img_id, shape)
    for refiner in refiners:
        label = refiner(label, image)
        _check_output(label, refiner, img_id, shape)
    return label


def make_sample_pseudo_label(sample: dict, map_dir: str, generator: ComponentCfg,
                             refiners: Sequence[ComponentCfg] = ()) -> np.ndarray:
    """Pseudo label (uint8 HxW) of a dataset sample from its map file; reads the image and
    the saliency only if needed.

    A component that does not declare ``needs_image`` gets the image; one that does not
    declare ``needs_saliency`` gets the saliency when the sample has a ``saliency_path``.
    """
    generator = build_label_generator(generator)
    refiners = build_refiners(refiners)
    img_id = sample['img_id']
    maps_file = map_path(map_dir, img_id)
    # the file must be this image's, with values in [0, 1] and only classes it is tagged with
    record = load_maps(maps_file, img_id=img_id, tags=sample.get('gt_label'))
    maps, classes = record['maps'], record['classes']
    height, width = maps.shape[1:]

    needs_image = getattr(generator, 'needs_image', True) or any(
        getattr(refiner, 'needs_image', True) for refiner in refiners)
    saliency_path = sample.get('saliency_path')
    needs_saliency = getattr(generator, 'needs_saliency', saliency_path is not None)

    image = saliency = None
    if needs_image:
        image = load_rgb_image(sample['img_path'])
        if image.shape[:2] != (height, width):
            raise ValueError(f'Image "{sample["img_path"]}" is {image.shape[0]}x'
                             f'{image.shape[1]} but its map file "{maps_file}" is '
                             f'{height}x{width}; maps must be saved at the original image size.')
    if needs_saliency:
        if saliency_path is None:
            raise ValueError(f'{type(generator).__name__} needs saliency but sample '
                             f'"{img_id}" has no `saliency_path`: the dataset has no saliency '
                             'folder. Set it (data_prefix.saliency_path in the dataset config, '
                             'or --saliency-dir).')
        saliency = load_saliency(saliency_path)  # a missing or corrupt file is named
        if saliency.shape != (height, width):
            raise ValueError(f'Saliency map "{saliency_path}" is {saliency.shape[0]}x'
                             f'{saliency.shape[1]} but map file "{maps_file}" is '
                             f'{height}x{width}; resize the saliency maps to the image size.')
    return _apply_components(maps, classes, image, saliency, generator, refiners, img_id)


def _check_output(label, component: Callable, img_id: Optional[str], shape: tuple) -> None:
    if not (isinstance(label, np.ndarray) and label.dtype == np.uint8 and label.shape == shape):
        where = '' if img_id is None else f' for image "{img_id}"'
        raise ValueError(f'{type(component).__name__} returned '
                         f'{getattr(label, "dtype", type(label))} {getattr(label, "shape", "")}'
                         f'{where}; expected a uint8 mask of shape {shape}.')


def _init_worker(generator: ComponentCfg, refiners: Sequence[ComponentCfg], map_dir: str,
                 out_dir: str) -> None:
    _WORKER.clear()
    _WORKER.update(generator=build_label_generator(generator),
                   refiners=build_refiners(refiners), map_dir=map_dir, out_dir=out_dir)


def _process_one(sample: dict) -> tuple:
    """Worker task: make and write the label of one sample -> (ignored pixels, pixels)."""
    label = make_sample_pseudo_label(sample, _WORKER['map_dir'], _WORKER['generator'],
                                     _WORKER['refiners'])
    save_label(label_path(_WORKER['out_dir'], sample['img_id']), label)
    return int(np.count_nonzero(label == IGNORE_INDEX)), int(label.size)


def _run_tasks(tasks: list, nproc: int, initargs: tuple, progress: bool,
               check_memory: bool = True) -> list:
    if not tasks:
        return []
    nproc = min(nproc, len(tasks))
    if nproc > 1 and check_memory:
        # the first image runs here; its peak memory says how many workers fit
        _init_worker(*initargs)
        try:
            first, task_mb = run_first_task(_process_one, tasks[0])
        finally:
            _WORKER.clear()
        nproc = cap_workers(nproc, task_mb, 'pseudo labels')
        return [first] + _run_tasks(tasks[1:], nproc, initargs, progress, check_memory=False)
    if nproc <= 1:
        _init_worker(*initargs)
        try:
            if progress:
                return track_progress(_process_one, tasks)
            return [_process_one(task) for task in tasks]
        finally:
            _WORKER.clear()
    if progress:
        return track_parallel_progress(_process_one, tasks, nproc, initializer=_init_worker,
                                       initargs=initargs, keep_order=False)
    with multiprocessing.Pool(nproc, initializer=_init_worker, initargs=initargs) as pool:
        return list(pool.imap_unordered(_process_one, tasks))


def generate_pseudo_labels(samples: Sequence[dict], map_dir: str, out_dir: str,
                           generator: ComponentCfg,
                           refiners: Sequence[ComponentCfg] = (), nproc: int = 1,
                           overwrite: bool = False, progress: bool = True) -> dict:
    """Write ``<out_dir>/<img_id>.png`` (uint8, 255 = ignore) for every sample, and the list
    of the samples' ids, ``<out_dir>/labelled_images.txt`` (the stage-3 dataset skips the
    images that are not in it: those the image-label dataset skipped).

    Args:
        samples: dataset items with ``img_id``, ``img_path`` and optional ``saliency_path``.
        map_dir: folder of the ``<img_id>.npz`` map files.
        out_dir: output folder (created).
        generator: ``LABEL_GENERATORS`` config dict or a callable.
        refiners: ``REFINERS`` config dicts or callables, applied in order.
        nproc: worker processes, at most (fewer when they would not fit in memory: the
            first image's peak memory decides, :mod:`.worker_memory`).
        overwrite: regenerate labels whose PNG already exists (default: skip them).
        progress: show an mmengine progress bar (rank 0 only).

    Returns:
        Summary over all ranks: ``num_samples``, ``num_written``, ``num_skipped``,
        ``num_pixels`` / ``num_ignored_pixels`` / ``ignored_fraction`` (written labels),
        ``seconds``, ``images_per_second`` (written labels, slowest rank), ``world_size``.
    """
    if refiners is None or isinstance(refiners, dict) or callable(refiners):
        refiners = [] if refiners is None else [refiners]
    rank, world_size = get_dist_info()
    samples = list(samples)
    my_samples = samples[rank::world_size]
    os.makedirs(out_dir, exist_ok=True)
    if rank == 0:  # the image set of the folder, for the stage-3 dataset
        write_labelled_images(out_dir, [sample['img_id'] for sample in samples])
    todo = [sample for sample in my_samples
            if overwrite or not osp.isfile(label_path(out_dir, sample['img_id']))]
    start = time.perf_counter()
    results = _run_tasks(todo, nproc, (generator, list(refiners), map_dir, out_dir),
                         progress and rank == 0)
    seconds = time.perf_counter() - start
    summary = dict(num_samples=len(my_samples), num_written=len(todo),
                   num_skipped=len(my_samples) - len(todo),
                   num_ignored_pixels=sum(ignored for ignored, _ in results),
                   num_pixels=sum(pixels for _, pixels in results), seconds=seconds)
    if world_size > 1:
        per_rank = all_gather_object(summary)
        summary = {key: sum(part[key] for part in per_rank) for key in summary}
        summary['seconds'] = max(part['seconds'] for part in per_rank)
    summary['ignored_fraction'] = (summary['num_ignored_pixels'] / summary['num_pixels']
                                   if summary['num_pixels'] else 0.0)
    summary['images_per_second'] = (summary['num_written'] / summary['seconds']
                                    if summary['seconds'] > 0 else 0.0)
    summary.update(world_size=world_size, out_dir=out_dir)
    return summary
