"""LID 2020 IoU-threshold curve and Peak-IoU (LID 2020 report §2.2, track 3).

Choices for what the report leaves open (our decisions):

* every map is min-max scaled **per image** to [0, 255] (kept as float, not rounded);
  a constant map scales to all 0;
* a pixel is foreground at threshold ``t`` iff its scaled value is **strictly greater**
  than ``t`` (``t = 0..255``), so ``t = 255`` predicts nothing;
* IoU(t) is **pooled over the dataset**: sum of intersections / sum of unions over all
  images (as the confusion-matrix metrics), not a mean of per-image IoUs;
* ground-truth pixels equal to ``ignore_index`` are left out.

Option (the track-3 winner's third fix, Bae et al. 2020 Sec. 4.3): ``reference='percentile'``
scales by the ``percentile``-th percentile instead of the maximum,
``clip((x - min) / (per_p(x) - min), 0, 1) * 255``, so one hot pixel does not squeeze the
rest of the map towards 0 as it does under the maximum (``percentile=100`` is the min-max
scaling; a percentile equal to the minimum, e.g. a map that is 0 on more than p % of its
pixels, falls back to the max).
"""
import functools
import itertools
from typing import Dict, Iterable, Sequence, Tuple

import numpy as np

from wsss_toolbox.maps.io import load_maps, map_path

from .utils import check_same_size, load_ground_truth, parallel_sum

NUM_THRESHOLDS = 256
REFERENCES = ('max', 'percentile')


def scale_to_255(localization_map: np.ndarray, reference: str = 'max',
                 percentile: float = 90.0) -> np.ndarray:
    """Per-image scaling of a map to float [0, 255] (constant map -> 0).

    ``reference='max'``: min-max; ``'percentile'``: the ``percentile``-th percentile takes
    the place of the max and larger values are clipped (see the module docstring).
    """
    if reference not in REFERENCES:
        raise ValueError(f'reference must be one of {REFERENCES}, got {reference!r}')
    if not 0.0 < percentile <= 100.0:
        raise ValueError(f'percentile must be in (0, 100], got {percentile}')
    values = np.asarray(localization_map, dtype=np.float64)
    low, high = values.min(), values.max()
    if reference == 'percentile':
        top = np.percentile(values, percentile)
        high = top if top > low else high
    if high <= low:
        return np.zeros_like(values)
    return np.clip((values - low) / (high - low), 0.0, 1.0) * 255.0


def lid_counts(localization_map: np.ndarray, gt_mask: np.ndarray,
               ignore_index: int = 255, reference: str = 'max',
               percentile: float = 90.0) -> Tuple[np.ndarray, np.ndarray, int]:
    """Per-threshold counts of one image: (intersection (256,), predicted (256,), gt pixels).

    ``gt_mask`` is boolean or {0, 1} (foreground = nonzero), with ``ignore_index`` skipped.
    ``reference`` / ``percentile``: see :func:`scale_to_255`.
    """
    localization_map = np.asarray(localization_map)
    gt_mask = np.asarray(gt_mask)
    if localization_map.shape != gt_mask.shape or localization_map.ndim != 2:
        raise ValueError(f'map shape {localization_map.shape} and gt shape {gt_mask.shape} '
                         'must be the same 2-D shape.')
    scaled = scale_to_255(localization_map, reference, percentile)
    valid = gt_mask != ignore_index if gt_mask.dtype != bool else np.ones(gt_mask.shape, bool)
    foreground = (gt_mask != 0) & valid
    # for an integer t, x > t  <=>  ceil(x) > t, so bin each pixel at ceil(x) in 0..255
    bins = np.ceil(scaled).astype(np.int64)
    hist_all = np.bincount(bins[valid], minlength=NUM_THRESHOLDS)
    hist_fg = np.bincount(bins[foreground], minlength=NUM_THRESHOLDS)
    # count(bin > t) = suffix sum starting at t + 1
    above_all = np.concatenate([np.cumsum(hist_all[::-1])[::-1][1:], [0]])
    above_fg = np.concatenate([np.cumsum(hist_fg[::-1])[::-1][1:], [0]])
    return above_fg, above_all, int(foreground.sum())


def lid_iou_curve(maps: Iterable[np.ndarray], gt_masks: Iterable[np.ndarray],
                  ignore_index: int = 255, reference: str = 'max',
                  percentile: float = 90.0) -> Dict[str, object]:
    """IoU-threshold curve of class-agnostic localization maps against foreground masks.

    Args:
        maps: one HxW map per image (any range; scaled per image to 0..255).
        gt_masks: matching HxW foreground masks (bool or {0, 1}, ``ignore_index`` skipped).
        reference, percentile: the scaling reference (see :func:`scale_to_255`).

    Returns:
        ``curve`` float64 (256,) with IoU(t) for t = 0..255, ``peak_iou`` = max_t IoU(t),
        ``peak_threshold`` = argmax_t (the smallest one on ties), ``num_images``.
    """
    intersection = np.zeros(NUM_THRESHOLDS, np.int64)
    predicted = np.zeros(NUM_THRESHOLDS, np.int64)
    gt_total = 0
    num_images = 0
    missing = object()
    for localization_map, gt_mask in itertools.zip_longest(maps, gt_masks, fillvalue=missing):
        if localization_map is missing or gt_mask is missing:
            raise ValueError('lid_iou_curve: got a different number of maps and gt masks.')
        tp, pred, gt_count = lid_counts(localization_map, gt_mask, ignore_index, reference,
                                        percentile)
        intersection += tp
        predicted += pred
        gt_total += gt_count
        num_images += 1
    return curve_from_counts(intersection, predicted, gt_total, num_images)


def curve_from_counts(intersection: np.ndarray, predicted: np.ndarray, gt_total: int,
                      num_images: int) -> Dict[str, object]:
    """Pooled IoU(t) = TP / (pred + gt - TP) from summed counts (0 where the union is 0)."""
    union = predicted + gt_total - intersection
    curve = np.where(union > 0, intersection / np.maximum(union, 1), 0.0)
    peak = int(np.argmax(curve))
    return dict(curve=curve, peak_iou=float(curve[peak]), peak_threshold=peak,
                num_images=num_images)


MASK_FORMATS = ('classes', 'binary')


def _peak_counts(sample: dict, map_dir: str, mask_format: str, reference: str,
                 percentile: float, ignore_index: int):
    maps_file = map_path(map_dir, sample['img_id'])
    record = load_maps(maps_file, img_id=sample['img_id'], tags=sample.get('gt_label'))
    num_classes = None
    if mask_format == 'classes' and sample.get('gt_label') is not None:
        # class-index masks of an image-label dataset: ids 0..C (C = its classes), 255
        num_classes = len(np.asarray(sample['gt_label']).reshape(-1)) + 1
    gt = load_ground_truth(sample, num_classes, ignore_index)
    check_same_size(gt, *record['maps'].shape[1:], sample['seg_map_path'], maps_file)
    maps = record['maps']
    agnostic = maps.max(axis=0) if len(maps) else np.zeros(gt.shape, np.float32)
    if mask_format == 'binary':  # 0/255 (or 0/1) masks: every nonzero pixel is foreground
        return lid_counts(agnostic, gt != 0, ignore_index, reference, percentile)
    foreground = np.where(gt == ignore_index, ignore_index, gt > 0).astype(np.uint8)
    return lid_counts(agnostic, foreground, ignore_index, reference, percentile)


def evaluate_peak_iou(samples: Sequence[dict], map_dir: str, mask_format: str = 'classes',
                      reference: str = 'max', percentile: float = 90.0,
                      ignore_index: int = 255, nproc: int = 1,
                      progress: bool = False) -> Dict[str, object]:
    """The track-3 result of map files: IoU-threshold curve, Peak-IoU and Peak-Threshold.

    The class-agnostic map of an image is the maximum over the classes of its map file (the
    ground-truth class's map in track 3, one class per image), scored against the
    foreground of its mask (see the module docstring for the choices).

    Args:
        samples: items with ``img_id``, ``seg_map_path`` (and ``gt_label``).
        map_dir: folder of the ``<img_id>.npz`` map files.
        mask_format: ``'classes'`` -- class-index masks (0 background, ``ignore_index``
            ignored); ``'binary'`` -- 0/255 foreground masks as the track's (255 is
            foreground, nothing is ignored; read off the track's data).
        reference, percentile: the scaling reference (:func:`scale_to_255`).

    Returns:
        ``curve`` (256 IoUs), ``peak_iou``, ``peak_threshold``, ``num_images``.
    """
    if mask_format not in MASK_FORMATS:
        raise ValueError(f'mask_format must be one of {MASK_FORMATS}, got {mask_format!r}')
    work = functools.partial(_peak_counts, map_dir=map_dir, mask_format=mask_format,
                             reference=reference, percentile=percentile,
                             ignore_index=ignore_index)
    totals, num_images = parallel_sum(work, samples, nproc, progress)
    if totals is None:
        totals = (np.zeros(NUM_THRESHOLDS, np.int64), np.zeros(NUM_THRESHOLDS, np.int64), 0)
    return curve_from_counts(*totals, num_images)


# ------------------------------------------------------------------ the parameter rule
#: LID 2020: the inference model(s) of a submission must have fewer parameters (report §2.2)
PARAMETER_LIMIT = 150_000_000


def count_parameters(model) -> int:
    """Number of parameters of a model (a wrapper's ``module`` is unwrapped; shared tensors
    count once)."""
    model = getattr(model, 'module', model)
    seen, total = set(), 0
    for parameter in model.parameters():
        if id(parameter) not in seen:
            seen.add(id(parameter))
            total += parameter.numel()
    return total


def parameter_rule(model, limit: int = PARAMETER_LIMIT) -> Dict[str, object]:
    """The LID 2020 rule for an inference model: ``parameters`` < ``limit``.

    Returns ``dict(parameters, limit, within_limit)``.
    """
    parameters = count_parameters(model)
    return dict(parameters=parameters, limit=int(limit), within_limit=parameters < limit)


def format_parameter_rule(report: Dict[str, object], what: str = 'inference model') -> str:
    """One line, e.g. ``inference model: 43.90 M parameters (LID 2020 rule: < 150 M: ok)``."""
    verdict = 'ok' if report['within_limit'] else 'EXCEEDED'
    return (f'{what}: {report["parameters"] / 1e6:.2f} M parameters (LID 2020 rule: '
            f'< {report["limit"] / 1e6:g} M: {verdict})')
