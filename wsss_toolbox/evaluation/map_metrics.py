"""Quality of localization-map files against ground-truth masks.

* :func:`evaluate_maps` -- background-threshold sweep: label = argmax over [t, maps]
  (exactly :class:`ThresholdLabelGenerator` with ``bg_threshold=t``: a pixel is foreground
  iff its best class score is > t), mIoU per t, best t and its full metrics; when most map
  files are empty (all zero: a classifier that learnt nothing) it logs a warning naming the
  folder (:mod:`.degenerate`).
* :func:`map_precision_recall` -- OAA Table 11/13: each class map binarised at
  ``ratio * max`` (``>=``), compared with that class's GT mask, pixels pooled over the split.
* :func:`maps_iou_curve` -- LID IoU-threshold curve of the class-agnostic map (max over the
  image's classes) against the GT foreground (every class but background).

They return fractions in [0, 1]; the tools and the pipeline write and print them in percent
(:func:`~.report.metrics_in_percent`).
"""
import functools
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from wsss_toolbox.maps.io import load_maps, map_path
from wsss_toolbox.maps.normalize import normalize_maps

from .confusion import ConfusionMatrix, confusion_matrix
from .degenerate import empty_maps_text, maps_are_empty, warn_if_degenerate
from .lid import NUM_THRESHOLDS, curve_from_counts, lid_counts
from .utils import check_same_size, load_ground_truth, parallel_sum

DEFAULT_THRESHOLDS = tuple(np.round(np.arange(0.0, 1.0, 0.05), 2).tolist())


def _load_pair(sample: dict, map_dir: str, normalize: bool,
               num_classes: Optional[int] = None, ignore_index: int = 255):
    """``(maps, classes, gt)`` of a sample; with ``num_classes`` (background included) a GT
    value that is neither a class id nor ``ignore_index`` is an error naming the mask."""
    maps_file = map_path(map_dir, sample['img_id'])
    record = load_maps(maps_file, img_id=sample['img_id'], tags=sample.get('gt_label'))
    gt = load_ground_truth(sample, num_classes, ignore_index)
    check_same_size(gt, *record['maps'].shape[1:], sample['seg_map_path'], maps_file)
    maps = normalize_maps(record['maps'], 'max', eps=0) if normalize else record['maps']
    return maps, record['classes'], gt


def _sweep_one(sample: dict, map_dir: str, num_classes: int, thresholds: Sequence[float],
               normalize: bool, ignore_index: int) -> Tuple[np.ndarray, int]:
    maps, classes, gt = _load_pair(sample, map_dir, False, num_classes, ignore_index)
    # judged before the normalisation, which would lift a near-zero peak to 1
    empty = int(maps_are_empty(maps))
    if normalize:
        maps = normalize_maps(maps, 'max', eps=0)
    if len(classes):
        best_score = maps.max(axis=0)
        best_label = (classes[maps.argmax(axis=0)] + 1).astype(np.int64)
    else:
        best_score = np.zeros(gt.shape, np.float32)
        best_label = np.zeros(gt.shape, np.int64)
    counts = np.empty((len(thresholds), num_classes, num_classes), np.int64)
    for index, threshold in enumerate(thresholds):
        pred = np.where(best_score > threshold, best_label, 0)
        counts[index] = confusion_matrix(pred, gt, num_classes, ignore_index)
    return counts, empty


def evaluate_maps(samples: Sequence[dict], map_dir: str, num_classes: int,
                  thresholds: Sequence[float] = DEFAULT_THRESHOLDS, normalize: bool = True,
                  class_names: Optional[Sequence[str]] = None, ignore_index: int = 255,
                  nproc: int = 1, progress: bool = False) -> Dict[str, object]:
    """Sweep the background threshold over the map files of ``samples``.

    Args:
        samples: items with ``img_id`` and ``seg_map_path``.
        map_dir: folder of the ``<img_id>.npz`` map files.
        num_classes: classes in the masks, background included (VOC: 21); a mask value
            other than ``0..num_classes - 1`` and ``ignore_index`` raises ``ValueError``
            naming the mask file.
        thresholds: background scores to try.
        normalize: divide each class map by its maximum first (as the generator does).
        class_names: ``num_classes`` names for the per-class metrics.

    Returns:
        ``thresholds``, ``miou_curve`` (mIoU per threshold), ``best_threshold``,
        ``best_metrics`` (:meth:`ConfusionMatrix.metrics` at the best threshold),
        ``num_images``, ``num_empty`` (images whose map file has no class map with a peak
        >= :data:`~.degenerate.EMPTY_MAP_EPS`) and ``warnings`` (the warning logged when
        those are more than :data:`~.degenerate.DEGENERATE_FRACTION` of the images).
    """
    thresholds = [float(threshold) for threshold in thresholds]
    if not thresholds:
        raise ValueError('evaluate_maps needs at least one threshold.')
    work = functools.partial(_sweep_one, map_dir=map_dir, num_classes=num_classes,
                             thresholds=thresholds, normalize=normalize,
                             ignore_index=ignore_index)
    summed, num_images = parallel_sum(work, samples, nproc, progress)
    totals, num_empty = summed if summed is not None else (
        np.zeros((len(thresholds), num_classes, num_classes), np.int64), 0)
    warning = warn_if_degenerate(
        int(num_empty), num_images,
        f'{empty_maps_text(map_dir)}: the threshold sweep sees background only')
    curve = []
    all_metrics = []
    for index in range(len(thresholds)):
        counter = ConfusionMatrix(num_classes, ignore_index, class_names)
        counter.matrix = totals[index]
        all_metrics.append(counter.metrics())
        curve.append(all_metrics[-1]['mIoU'])
    best = int(np.nanargmax(curve)) if not np.all(np.isnan(curve)) else 0
    return dict(thresholds=thresholds, miou_curve=curve, best_threshold=thresholds[best],
                best_metrics=all_metrics[best], num_images=num_images,
                num_empty=int(num_empty), warnings=[] if warning is None else [warning])


def _precision_recall_one(sample: dict, map_dir: str, num_classes: int, ratio: float,
                          ignore_index: int) -> np.ndarray:
    maps, classes, gt = _load_pair(sample, map_dir, False, num_classes, ignore_index)
    valid = gt != ignore_index
    counts = np.zeros((3, num_classes - 1), np.int64)  # rows: true positive, predicted, gt
    present = set(int(value) - 1 for value in np.unique(gt[valid]) if value > 0)
    by_class = {int(cls): maps[index] for index, cls in enumerate(classes)}
    for cls in sorted(present | set(by_class)):
        if cls >= num_classes - 1:
            raise ValueError(f'class index {cls} of image "{sample["img_id"]}" does not fit '
                             f'{num_classes} classes (background included).')
        gt_mask = (gt == cls + 1) & valid
        class_map = by_class.get(cls)
        if class_map is None or class_map.max() <= 0:
            pred_mask = np.zeros(gt.shape, bool)
        else:
            pred_mask = (class_map >= ratio * class_map.max()) & valid
        counts[0, cls] += np.count_nonzero(pred_mask & gt_mask)
        counts[1, cls] += np.count_nonzero(pred_mask)
        counts[2, cls] += np.count_nonzero(gt_mask)
    return counts


def map_precision_recall(samples: Sequence[dict], map_dir: str, num_classes: int,
                         ratio: float = 0.5, ignore_index: int = 255, nproc: int = 1,
                         progress: bool = False) -> Dict[str, object]:
    """Pixel recall / precision of maps binarised at ``ratio * max`` (OAA Table 11).

    For every image and every class in its map file or its ground truth, the class map is
    binarised with ``map >= ratio * max(map)`` (an all-zero or missing map predicts
    nothing) and compared with that class's GT mask; GT-ignored pixels are skipped. Counts
    are pooled over all (image, class) pairs. A GT value other than ``0..num_classes - 1``
    (background included) and ``ignore_index`` raises ``ValueError`` naming the mask file.

    Returns:
        ``recall``, ``precision``, ``noise`` (= 1 - precision, OAA's "noise"),
        ``per_class_recall``, ``per_class_precision`` (foreground classes, NaN where
        undefined), ``num_images``.
    """
    work = functools.partial(_precision_recall_one, map_dir=map_dir, num_classes=num_classes,
                             ratio=ratio, ignore_index=ignore_index)
    counts, num_images = parallel_sum(work, samples, nproc, progress)
    if counts is None:
        counts = np.zeros((3, num_classes - 1), np.int64)
    true_positive, predicted, gt_area = counts.astype(np.float64)
    with np.errstate(divide='ignore', invalid='ignore'):
        per_class_recall = np.where(gt_area > 0, true_positive / gt_area, np.nan)
        per_class_precision = np.where(predicted > 0, true_positive / predicted, np.nan)
    recall = true_positive.sum() / gt_area.sum() if gt_area.sum() else float('nan')
    precision = true_positive.sum() / predicted.sum() if predicted.sum() else float('nan')
    return dict(recall=float(recall), precision=float(precision),
                noise=float(1 - precision), per_class_recall=per_class_recall.tolist(),
                per_class_precision=per_class_precision.tolist(), num_images=num_images)


def _lid_one(sample: dict, map_dir: str, ignore_index: int):
    num_classes = None
    if sample.get('gt_label') is not None:
        # class-index masks of an image-label dataset: ids 0..C (C = its classes), 255
        num_classes = len(np.asarray(sample['gt_label']).reshape(-1)) + 1
    maps, classes, gt = _load_pair(sample, map_dir, False, num_classes, ignore_index)
    agnostic = maps.max(axis=0) if len(classes) else np.zeros(gt.shape, np.float32)
    foreground = np.where(gt == ignore_index, ignore_index, gt > 0).astype(np.uint8)
    return lid_counts(agnostic, foreground, ignore_index)


def maps_iou_curve(samples: Sequence[dict], map_dir: str, ignore_index: int = 255,
                   nproc: int = 1, progress: bool = False) -> Dict[str, object]:
    """LID IoU-threshold curve (see :mod:`.lid`) of the max-over-classes map of every map
    file against its GT foreground (all non-background, non-ignored pixels). For a sample
    with ``gt_label`` (C classes) a GT value other than ``0..C`` and ``ignore_index`` raises
    ``ValueError`` naming the mask file, instead of counting as foreground."""
    work = functools.partial(_lid_one, map_dir=map_dir, ignore_index=ignore_index)
    totals, num_images = parallel_sum(work, samples, nproc, progress)
    if totals is None:
        totals = (np.zeros(NUM_THRESHOLDS, np.int64), np.zeros(NUM_THRESHOLDS, np.int64), 0)
    return curve_from_counts(*totals, num_images)
