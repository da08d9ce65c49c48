"""Stage-1 validation metric: how well the classifier recognises the image labels."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from wsss_toolbox.registry import METRICS

from .degenerate import warn_if_degenerate


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Non-interpolated average precision of one class (NaN when it has no positive)."""
    positives = labels.sum()
    if positives == 0:
        return float('nan')
    order = np.argsort(-scores, kind='stable')
    hits = labels[order]
    precision_at_hit = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision_at_hit * hits).sum() / positives)


@METRICS.register_module()
class MultiLabelMetric(BaseMetric):
    """mAP over classes and F1 at a score threshold, from ``pred_scores`` and ``gt_label``.

    When the model predicts no class above ``threshold`` for most labelled images (more than
    :data:`~.degenerate.DEGENERATE_FRACTION`), a warning is logged: its maps will be as empty.

    Args:
        threshold: score above which a class counts as predicted (for precision/recall/F1).
        collect_device, prefix: as mmengine's ``BaseMetric``.
    """

    default_prefix = 'cls'

    def __init__(self, threshold: float = 0.5, collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.threshold = threshold

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            scores, label = sample['pred_scores'], sample['gt_label']
            self.results.append((torch.as_tensor(scores).float().cpu().numpy(),
                                 torch.as_tensor(label).float().cpu().numpy()))

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
        return dict(mAP=100 * float(np.nanmean(per_class_ap)), precision=100 * float(precision),
                    recall=100 * float(recall), F1=100 * float(f1))
