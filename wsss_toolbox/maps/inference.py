"""Stage 2a: localization-map inference, the loop over the images that writes the map files.

:func:`infer_maps` reads every image, runs the classifier on its test-time augmentation views
(:mod:`.tta`: scales, flips, fusion, ``aggregation``), alone or in partner groups
(:mod:`.partners`), batched by view size with optional ``amp`` and channels-last
(:mod:`.forward`), and writes one map file per image (:mod:`.io`): the fused map of every
class the image carries, divided by its maximum (:func:`class_maps`:
:func:`~wsss_toolbox.maps.normalize.normalize_maps`, ``mode='max'``, ``eps=1e-5``: OAA Eq. 2
applied after fusion). With partner rounds the fused maps are averaged over the rounds before
the normalisation.

**Strided maps.** ``stride=s`` also writes ``strided_maps`` of size ceil(H/s) x ceil(W/s)
(IRN's random walk works at stride 4). With the image grid, the fused, not yet normalised
maps are resized bilinearly to that size and each class map is then divided by its own
maximum (IRN also normalises its strided CAMs separately, by max + 1e-5: so every strided map
with a positive peak reaches about 1, which the background thresholds of the random walk
assume; a downsampled narrow peak would otherwise stay below 1). With the feature grid they
are resized from each scale's feature-grid sum (:mod:`.tta`, **Aggregation**).

The run is resumable (images whose map file exists are skipped) and shares the images among
distributed ranks (``torchrun``) by striding, so N processes write disjoint files.

The names of :mod:`.tta`, :mod:`.partners` and :mod:`.forward` that this module held before
they were split off stay importable from here.
"""
import os.path as osp
from typing import Any, Dict, Optional, Sequence, Tuple

import mmcv
import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.utils import ProgressBar

from wsss_toolbox.evaluation.degenerate import (
    empty_maps_text,
    maps_are_empty,
    warn_if_degenerate,
)

from .feature_grid import resize_maps
from .forward import (
    DEFAULT_BATCH_PIXELS,
    DEFAULT_CPU_BATCH_PIXELS,
    default_batch_pixels,
    model_device_type,
    model_needs_flip_pairs,
    prepare_model,
)
from .forward import size_batches as _size_batches
from .io import DEFAULT_MAP_DTYPE, check_map_dtype, map_path, save_maps, strided_shape
from .normalize import normalize_maps
from .partners import PartnerSource, PartnerTable, load_partner_lists
from .tta import (
    AGGREGATIONS,
    FUSIONS,
    check_aggregation,
    check_fusion,
    feature_grid_maps_of_images,
    fused_maps_and_scores,
    fused_maps_of_images,
    infer_image_maps,
)

__all__ = [
    'AGGREGATIONS', 'DEFAULT_BATCH_IMAGES', 'DEFAULT_BATCH_PIXELS', 'DEFAULT_CPU_BATCH_PIXELS',
    'FUSIONS', 'MAP_NORMALIZE_EPS', 'PartnerSource', '_size_batches', 'check_aggregation',
    'check_fusion', 'class_maps', 'default_batch_pixels', 'feature_grid_maps_of_images',
    'fused_maps_and_scores', 'fused_maps_of_images', 'infer_image_maps', 'infer_maps',
    'load_partner_lists', 'model_device_type', 'model_needs_flip_pairs'
]

#: default images whose views are batched together
DEFAULT_BATCH_IMAGES = 8
# divisor floor of the per-class max normalisation of the written maps
MAP_NORMALIZE_EPS = 1e-5


def class_maps(fused: torch.Tensor, classes: Optional[np.ndarray],
               stride: Optional[int] = None) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Normalized maps of ``classes`` from fused maps, and their strided maps.

    Args:
        fused: (C, H, W) non-negative fused maps (any positive scale).
        classes: (K,) class indices to keep; None: every map of ``fused`` (already the
            image's classes).
        stride: also return (K, ceil(H / stride), ceil(W / stride)) maps (module docstring).

    Returns:
        ``(maps float32 (K, H, W), strided_maps float32 or None)``, values in [0, 1].
    """
    selected = fused if classes is None else fused[torch.from_numpy(
        np.asarray(classes, dtype=np.int64))]
    maps = normalize_maps(selected, 'max', eps=MAP_NORMALIZE_EPS).cpu().numpy()
    if stride is None:
        return maps, None
    size = strided_shape(*fused.shape[-2:], stride)
    strided = resize_maps(selected, size).clamp_(min=0)
    return maps, normalize_maps(strided, 'max', eps=MAP_NORMALIZE_EPS).cpu().numpy()


def _read_bgr(path: str) -> np.ndarray:
    image = mmcv.imread(path, channel_order='bgr')
    if image is None:
        raise FileNotFoundError(f'image {path!r} is missing or unreadable')
    return image


def infer_maps(model: torch.nn.Module,
               samples: Sequence[Dict],
               out_dir: str,
               scales: Sequence[float] = (1.0, ),
               flip: bool = True,
               fusion: str = 'mean',
               aggregation: str = 'image_grid',
               overwrite: bool = False,
               partners: PartnerSource = None,
               num_partners: int = 0,
               rounds: int = 1,
               partner_seed: int = 0,
               exclude_anchor: bool = False,
               stride: Optional[int] = None,
               batch_images: int = DEFAULT_BATCH_IMAGES,
               batch_pixels: Optional[int] = None,
               amp: bool = False,
               channels_last: bool = False,
               map_dtype: str = DEFAULT_MAP_DTYPE,
               progress: bool = True) -> Dict[str, Any]:
    """Write the map file of every sample that has none yet.

    Args:
        model: a stage-1 classifier (``WSSSClassifier`` or anything whose ``test_step``
            fills ``pred_maps`` at the input resolution).
        samples: dataset items (``img_path``, ``img_id``, ``gt_label``), e.g.
            ``[dataset.get_data_info(i) for i in range(len(dataset))]``.
        out_dir: folder of the ``<img_id>.npz`` files.
        scales, flip: test-time augmentation views; ``fusion``: ``'mean'`` or ``'max'``.
        aggregation: ``'image_grid'`` (default: views resized to the image, flipped back and
            fused; strided maps from the fused map) or ``'feature_grid'`` (IRN/RPNet's
            make_cam: flip and sum on the feature grid, each scale resized once to the image
            and once to the strided size; :mod:`.tta`). ``'feature_grid'`` needs
            ``fusion='mean'`` and no partners.
        overwrite: recompute files that already exist.
        partners: listed partners, ``img_id -> [ids]`` or ``img_id -> [[ids], ...]`` (one
            group per round), as a dict or the path of a JSON file of one.
        num_partners: draw this many partners per group sharing a class with the anchor.
        rounds: groups per anchor with drawn partners; the fused maps are averaged.
        partner_seed: seed of the drawn partners (anchor ``i`` uses ``(partner_seed, i)``).
        exclude_anchor: never draw the anchor as its own partner (see ``ClassPairSampler``).
        stride: also write ``strided_maps`` at this stride (e.g. 4 for IRN).
        batch_images: without partners, the views of this many images are batched
            together (views of one size share a forward; 1: image by image).
        batch_pixels: at most this many input pixels per batched forward (a view larger
            than that runs alone); None: :func:`default_batch_pixels` (CPU: 256 x 256,
            GPU: 16 x 512 x 512).
        amp: run the network in mixed precision (mmengine's ``autocast``: float16 on a GPU,
            bfloat16 on the CPU, where it pays on processors with AVX512-BF16 or AMX). The
            maps then differ from float32 ones by about 1 % of their peak
            (``docs/benchmarks.md``); off by default.
        channels_last: convert the model's weights to the channels-last memory format (in
            place; the convolutions then run channels-last). The same maps up to float
            rounding; it pays together with ``amp`` on the CPU (``docs/benchmarks.md``).
        map_dtype: how the map files store the maps: ``'float16'`` (default) or ``'uint8'``
            (8-bit, about half the size; :func:`~wsss_toolbox.maps.io.save_maps`).
        progress: show an mmengine progress bar (rank 0 only).

    Without ``partners`` and ``num_partners`` each image runs alone. Ranks split the anchors
    (``samples[rank::world_size]``); partners come from all samples. Every view's data
    sample carries its image's ``gt_label`` (heads that erase with the labels read it).

    Returns:
        ``dict(written=..., skipped=..., empty=..., bytes_per_image=..., warnings=[...])`` of
        this rank: ``empty`` counts the written images whose maps are all (near) zero
        (:func:`~wsss_toolbox.evaluation.degenerate.maps_are_empty`); when they are most of
        the written images, ``warnings`` holds the warning that was logged;
        ``bytes_per_image`` is the mean size of this rank's map files (written or skipped).
    """
    check_fusion(fusion)
    check_map_dtype(map_dtype)
    check_aggregation(aggregation)
    if stride is not None and (isinstance(stride, bool) or not isinstance(stride, int)
                               or stride < 1):
        raise ValueError(f'stride must be an integer >= 1 or None, got {stride!r}')
    if num_partners < 0:
        raise ValueError(f'num_partners must be >= 0, got {num_partners}')
    grouped = partners is not None or num_partners > 0
    feature_grid = aggregation == 'feature_grid'
    if feature_grid and fusion != 'mean':
        raise ValueError(f"aggregation='feature_grid' sums the views (IRN/RPNet make_cam.py); "
                         f"fusion={fusion!r} applies to aggregation='image_grid' only: use "
                         "fusion='mean'")
    if feature_grid and grouped:
        raise ValueError("aggregation='feature_grid' runs single images; partners / "
                         "num_partners need aggregation='image_grid'")
    if rounds != 1 and not grouped:
        raise ValueError('rounds needs partners: set num_partners (or give partners)')
    samples = list(samples)
    table = PartnerTable(samples, partners, num_partners, rounds, partner_seed,
                          exclude_anchor) if grouped else None
    if batch_images < 1 or (batch_pixels is not None and batch_pixels < 1):
        raise ValueError(f'batch_images and batch_pixels must be >= 1, got {batch_images} and '
                         f'{batch_pixels}')
    rank, world_size = get_dist_info()
    prepare_model(model, channels_last)
    mine = range(len(samples))[rank::world_size]
    progress = ProgressBar(len(mine)) if progress and rank == 0 and len(mine) else None
    written = skipped = empty = num_bytes = 0
    chunk_size = 1 if table is not None else int(batch_images)
    for chunk_start in range(0, len(mine), chunk_size):
        chunk = mine[chunk_start:chunk_start + chunk_size]
        todo = [index for index in chunk
                if overwrite or not osp.exists(map_path(out_dir, samples[index]['img_id']))]
        skipped += len(chunk) - len(todo)
        num_bytes += sum(osp.getsize(map_path(out_dir, samples[index]['img_id']))
                         for index in chunk if index not in todo)
        if todo:
            # only the image's classes are resized and fused
            classes = [_image_classes(samples[index]) for index in todo]
            if feature_grid:
                normalised = feature_grid_maps_of_images(
                    model, [_read_bgr(samples[index]['img_path']) for index in todo], scales,
                    flip, [samples[index]['gt_label'] for index in todo], batch_pixels, amp,
                    classes, stride)
            else:
                if table is None:
                    fused = [maps for maps, _ in fused_maps_of_images(
                        model, [_read_bgr(samples[index]['img_path']) for index in todo],
                        scales, flip, fusion, [samples[index]['gt_label'] for index in todo],
                        batch_pixels, amp, classes)]
                else:
                    fused = [_grouped_maps(model, samples, index, table, scales, flip, fusion,
                                           amp, kept) for index, kept in zip(todo, classes)]
                normalised = [class_maps(maps, None, stride) for maps in fused]
            for index, kept, (maps, strided) in zip(todo, classes, normalised):
                target = map_path(out_dir, samples[index]['img_id'])
                save_maps(target, samples[index]['img_id'], kept, maps, strided_maps=strided,
                          stride=None if strided is None else stride, dtype=map_dtype)
                num_bytes += osp.getsize(target)
                empty += maps_are_empty(maps)
            written += len(todo)
        if progress is not None:
            for _ in chunk:
                progress.update()
    if progress is not None:
        print()
    warning = warn_if_degenerate(empty, written, f'written {empty_maps_text(out_dir)}')
    files = written + skipped
    return dict(written=written, skipped=skipped, empty=empty,
                bytes_per_image=num_bytes / files if files else 0.0,
                warnings=[] if warning is None else [warning])


def _grouped_maps(model: torch.nn.Module, samples: Sequence[Dict], index: int,
                  table: PartnerTable, scales: Sequence[float], flip: bool,
                  fusion: str, amp: bool = False,
                  classes: Optional[np.ndarray] = None) -> torch.Tensor:
    """Fused maps of anchor ``samples[index]`` (of ``classes``; None: all), averaged over its
    partner groups (rounds)."""
    sample = samples[index]
    image = _read_bgr(sample['img_path'])
    per_round = []
    for group in table.groups(index):
        group_meta = dict(anchor=index, img_ids=[sample['img_id']] + [
            samples[partner]['img_id'] for partner in group])
        per_round.append(fused_maps_and_scores(
            model, image, scales, flip, fusion,
            [_read_bgr(samples[partner]['img_path']) for partner in group],
            group_meta, gt_labels=[sample['gt_label']] + [
                samples[partner]['gt_label'] for partner in group], amp=amp,
            classes=classes)[0])
    return torch.stack(per_round).mean(0)


def _image_classes(sample: Dict) -> np.ndarray:
    """Indices of the classes ``sample`` is tagged with."""
    return np.flatnonzero(np.asarray(sample['gt_label']) > 0)
