"""Stage-1 validation metric: how well the classifier recognises the image labels."""
import os.path as osp
import warnings
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from wsss_toolbox.registry import METRICS

from .confusion import dump_metrics_json
from .degenerate import warn_if_degenerate
from .formatting import PERCENT_DECIMALS


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Non-interpolated average precision of one class (NaN when it has no positive)."""
    positives = labels.sum()
    if positives == 0:
        return float('nan')
    order = np.argsort(-scores, kind='stable')
    hits = labels[order]
    precision_at_hit = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision_at_hit * hits).sum() / positives)


#: the file :class:`ImageLabelMetric` writes in its ``output_dir``
RESULTS_FILE = 'image_label_results.json'
_RENAMED = ("'MultiLabelMetric' is renamed 'ImageLabelMetric' (mmpretrain has a "
            "MultiLabelMetric of its own): write type='ImageLabelMetric' in configs and "
            '`from wsss_toolbox.evaluation import ImageLabelMetric`; the old name will be '
            'removed in the next version.')


@METRICS.register_module()
class ImageLabelMetric(BaseMetric):
    """mAP over classes and F1 at a score threshold, from ``pred_scores`` and ``gt_label``,
    in percent (as mmseg's metrics).

    When the model predicts no class above ``threshold`` for most labelled images (more than
    :data:`~.degenerate.DEGENERATE_FRACTION`), a warning is logged: its maps will be as empty.

    Args:
        threshold: score above which a class counts as predicted (for precision/recall/F1).
        output_dir: where to write :data:`RESULTS_FILE` (``tools/test.py --out`` sets it):
            the metrics and, per image, its ``img_path``, ground-truth classes, predicted
            classes and scores (rounded to 4 decimals). None writes nothing.
        collect_device, prefix: as mmengine's ``BaseMetric``.
    """

    default_prefix = 'cls'

    def __init__(self, threshold: float = 0.5, output_dir: Optional[str] = None,
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.threshold = threshold
        self.output_dir = output_dir

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            scores, label = sample['pred_scores'], sample['gt_label']
            self.results.append((torch.as_tensor(scores).float().cpu().numpy(),
                                 torch.as_tensor(label).float().cpu().numpy(),
                                 sample.get('img_path')))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        scores = np.stack([r[0] for r in results])
        labels = np.stack([r[1] for r in results]) > 0
        per_class_ap = [average_precision(scores[:, c], labels[:, c])
                        for c in range(scores.shape[1])]
        predicted = scores > self.threshold
        labelled = labels.any(axis=1)
        warn_if_degenerate(
            int((labelled & ~predicted.any(axis=1)).sum()), int(labelled.sum()),
            f'with a label get no predicted class (no score above {self.threshold:g}) from '
            f'the classifier under validation (metric {type(self).__name__})',
            hint='it has not learnt the labels (yet): too short a schedule, an unsuitable '
            'learning rate or labels that do not reach the loss; its maps will be empty')
        true_positive = (predicted & labels).sum()
        precision = true_positive / max(predicted.sum(), 1)
        recall = true_positive / max(labels.sum(), 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-12)
        metrics = dict(mAP=100 * float(np.nanmean(per_class_ap)),
                       precision=100 * float(precision), recall=100 * float(recall),
                       F1=100 * float(f1))
        if self.output_dir:
            self._write_results(metrics, results, predicted, labels)
        return metrics

    def _write_results(self, metrics: Dict[str, float], results: List, predicted: np.ndarray,
                       labels: np.ndarray) -> None:
        """:data:`RESULTS_FILE` in ``output_dir`` (compute_metrics runs on rank 0 only)."""
        images = [dict(img_path=result[2], gt_label=np.flatnonzero(label).tolist(),
                       pred_label=np.flatnonzero(pred).tolist(),
                       pred_scores=np.round(result[0].astype(np.float64), 4).tolist())
                  for result, label, pred in zip(results, labels, predicted)]
        classes = (self.dataset_meta or {}).get('classes')
        dump_metrics_json(
            dict(metrics={key: round(value, PERCENT_DECIMALS) for key, value in metrics.items()},
                 threshold=self.threshold, classes=None if classes is None else list(classes),
                 images=images),
            osp.join(self.output_dir, RESULTS_FILE))


@METRICS.register_module(name='MultiLabelMetric')
class _MultiLabelMetric(ImageLabelMetric):
    """The former name of :class:`ImageLabelMetric` (configs with ``type='MultiLabelMetric'``),
    deprecated: it warns and names the new one."""

    def __init__(self, *args, **kwargs) -> None:
        warnings.warn(_RENAMED, DeprecationWarning, stacklevel=2)
        super().__init__(*args, **kwargs)


def __getattr__(name: str) -> Any:
    """``MultiLabelMetric``, the former name of :class:`ImageLabelMetric`, resolves for one
    version with a DeprecationWarning."""
    if name == 'MultiLabelMetric':
        warnings.warn(_RENAMED, DeprecationWarning, stacklevel=3)
        return _MultiLabelMetric
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
