"""Confusion matrix and the segmentation metrics derived from it (the LID 2020 report §2.2 and
PASCAL VOC's mIoU).

``M[g, p]`` counts pixels of ground-truth class ``g`` predicted as ``p``, summed over the
whole split (dataset-level pooling, as mmseg's ``IoUMetric``). With ``TP_c = M[c, c]``:

* ``IoU_c = TP_c / (gt_c + pred_c - TP_c)``, ``mIoU`` = mean over classes with a defined IoU;
* ``Acc_c = TP_c / gt_c`` (recall), ``mAcc`` = mean; ``Precision_c = TP_c / pred_c``;
* ``aAcc = sum_c TP_c / sum_c gt_c``.

Ground-truth pixels equal to ``ignore_index`` are skipped. A *prediction* outside
``[0, num_classes)`` (e.g. 255 in a pseudo label) is not a class: the pixel is kept out of
``M`` and counted in ``ConfusionMatrix.unassigned[g]``; it then counts as a miss of its
ground-truth class (in ``gt_c``), exactly as ``IoUMetric`` does. Metrics are fractions in
[0, 1]; the tools' tables and JSON files give them in percent with two decimals, as mmseg
does (:func:`~.report.metrics_in_percent`). Classes absent from both GT and prediction get
NaN and are left out of the means.
"""
import json
import math
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from .formatting import format_table


def _as_int_array(array: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(array)
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f'{what} must hold integer class indices, got dtype {array.dtype}.')
    return array.astype(np.int64, copy=False)


def confusion_counts(pred: np.ndarray, gt: np.ndarray, num_classes: int,
                     ignore_index: int = 255) -> Tuple[np.ndarray, np.ndarray]:
    """``(M, unassigned)``: the (N, N) matrix of :func:`confusion_matrix` and the (N,) count,
    per GT class, of pixels whose prediction lies outside ``[0, N)``."""
    pred = _as_int_array(pred, 'pred')
    gt = _as_int_array(gt, 'gt')
    if pred.shape != gt.shape:
        raise ValueError(f'pred shape {pred.shape} differs from gt shape {gt.shape}.')
    valid_gt = gt != ignore_index
    bad = valid_gt & ((gt < 0) | (gt >= num_classes))
    if bad.any():
        raise ValueError(f'ground truth holds values {np.unique(gt[bad]).tolist()} outside '
                         f'[0, {num_classes}) that are not ignore_index={ignore_index}; check '
                         'num_classes (background included) and how the masks are read '
                         '(palette PNGs must be read as indices).')
    assigned = valid_gt & (pred >= 0) & (pred < num_classes)
    matrix = np.bincount(gt[assigned] * num_classes + pred[assigned],
                         minlength=num_classes * num_classes).reshape(num_classes, num_classes)
    unassigned = np.bincount(gt[valid_gt & ~assigned], minlength=num_classes)
    return matrix.astype(np.int64), unassigned.astype(np.int64)


def confusion_matrix(pred: np.ndarray, gt: np.ndarray, num_classes: int,
                     ignore_index: int = 255) -> np.ndarray:
    """(N, N) int64 matrix ``M[gt, pred]`` of one prediction (any shape, same as ``gt``).

    Pixels with ``gt == ignore_index`` and pixels whose prediction is outside ``[0, N)`` are
    not counted (use :class:`ConfusionMatrix` to count the latter as misses).
    """
    return confusion_counts(pred, gt, num_classes, ignore_index)[0]


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide='ignore', invalid='ignore'):
        return np.where(denominator > 0, numerator / np.maximum(denominator, 1), np.nan)


def _nanmean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float('nan')


class ConfusionMatrix:
    """Accumulating confusion matrix over a dataset.

    Args:
        num_classes: number of mask classes, background included (VOC: 21).
        ignore_index: ground-truth value to skip.
        class_names: optional names (length ``num_classes``) for tables and JSON.
    """

    def __init__(self, num_classes: int, ignore_index: int = 255,
                 class_names: Optional[Sequence[str]] = None) -> None:
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f'{len(class_names)} class names for {num_classes} classes.')
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.class_names = list(class_names) if class_names is not None else [
            str(index) for index in range(num_classes)]
        self.matrix = np.zeros((num_classes, num_classes), np.int64)
        self.unassigned = np.zeros(num_classes, np.int64)

    def update(self, pred: np.ndarray, gt: np.ndarray) -> 'ConfusionMatrix':
        """Add one prediction / ground-truth pair."""
        matrix, unassigned = confusion_counts(pred, gt, self.num_classes, self.ignore_index)
        self.matrix += matrix
        self.unassigned += unassigned
        return self

    def merge(self, other: 'ConfusionMatrix') -> 'ConfusionMatrix':
        """Add the counts of ``other`` (e.g. from another worker or rank) in place."""
        if other.num_classes != self.num_classes:
            raise ValueError(f'cannot merge {other.num_classes}-class counts into '
                             f'{self.num_classes}-class counts.')
        self.matrix += other.matrix
        self.unassigned += other.unassigned
        return self

    def metrics(self, count_unassigned: bool = True) -> Dict[str, object]:
        """``aAcc``, ``mIoU``, ``mAcc``, ``mPrecision`` (floats) and per-class lists
        ``IoU``, ``Acc``, ``Precision`` (fractions, NaN where undefined).

        Args:
            count_unassigned: count ground-truth pixels whose prediction was outside the
                class range (ignored pseudo-label pixels) as misses (mmseg semantics). With
                False they are left out, i.e. only the labelled pixels are scored.
        """
        true_positive = np.diag(self.matrix).astype(np.float64)
        gt_area = self.matrix.sum(axis=1).astype(np.float64)
        if count_unassigned:
            gt_area = gt_area + self.unassigned
        pred_area = self.matrix.sum(axis=0).astype(np.float64)
        iou = _divide(true_positive, gt_area + pred_area - true_positive)
        acc = _divide(true_positive, gt_area)
        precision = _divide(true_positive, pred_area)
        total = gt_area.sum()
        return dict(
            aAcc=float(true_positive.sum() / total) if total > 0 else float('nan'),
            mIoU=_nanmean(iou), mAcc=_nanmean(acc), mPrecision=_nanmean(precision),
            IoU=iou.tolist(), Acc=acc.tolist(), Precision=precision.tolist(),
            class_names=list(self.class_names))

    def table(self, count_unassigned: bool = True) -> str:
        """Per-class table plus a summary line (percentages)."""
        return format_metrics_table(self.metrics(count_unassigned))


def _percent(value: float) -> str:
    return 'nan' if value is None or math.isnan(value) else f'{100 * value:.2f}'


def format_metrics_table(metrics: Dict[str, object],
                         class_names: Optional[Sequence[str]] = None) -> str:
    """Per-class IoU / Acc / Precision (%) table and an aAcc / mIoU / mAcc line of the
    fractions of :meth:`ConfusionMatrix.metrics` (``prettytable`` when installed, else
    aligned plain text)."""
    names = list(class_names or metrics.get('class_names') or
                 [str(index) for index in range(len(metrics['IoU']))])
    columns = [key for key in ('IoU', 'Acc', 'Precision') if key in metrics]
    rows = [[name] + [_percent(metrics[key][index]) for key in columns]
            for index, name in enumerate(names)]
    body = format_table(['Class'] + columns, rows)
    summary = '  '.join(f'{key}: {_percent(metrics[key])}' for key in ('aAcc', 'mIoU', 'mAcc')
                        if key in metrics)
    return f'{body}\n{summary}'


def to_jsonable(value):
    """Recursively convert numpy types to Python ones and NaN/inf to None (valid JSON)."""
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dump_metrics_json(metrics: dict, path: str) -> None:
    """Write ``metrics`` as indented JSON (NaN -> null)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(to_jsonable(metrics), f, indent=2)

