"""Quality of pseudo-label PNGs against ground-truth masks (fractions in [0, 1]; the tools
write and print them in percent, :func:`~.report.metrics_in_percent`)."""
import functools
from typing import Dict, Optional, Sequence

import numpy as np

from wsss_toolbox.pseudo_labels.label_io import IGNORE_INDEX, label_path, load_label

from .confusion import ConfusionMatrix, confusion_counts
from .utils import check_same_size, load_ground_truth, parallel_sum


def _label_counts(sample: dict, label_dir: str, num_classes: int, ignore_index: int):
    path = label_path(label_dir, sample['img_id'])
    # both files are checked: a pseudo-label value past the classes would otherwise count
    # as an unlabelled pixel, a ground-truth one would stop the count without naming the file
    label = load_label(path, num_classes, IGNORE_INDEX, what='pseudo label')
    gt = load_ground_truth(sample, num_classes, ignore_index)
    check_same_size(gt, *label.shape, sample['seg_map_path'], path)
    matrix, unassigned = confusion_counts(label, gt, num_classes, ignore_index)
    return matrix, unassigned, int(np.count_nonzero(label == IGNORE_INDEX)), int(label.size)


def evaluate_labels(samples: Sequence[dict], label_dir: str, num_classes: int,
                    class_names: Optional[Sequence[str]] = None, ignore_index: int = 255,
                    nproc: int = 1, progress: bool = False) -> Dict[str, object]:
    """Score ``<label_dir>/<img_id>.png`` against each sample's ``seg_map_path``.

    Args:
        num_classes: classes in the masks, background included (VOC: 21).
        class_names: ``num_classes`` names for the per-class metrics.

    Returns:
        ``metrics``: :meth:`ConfusionMatrix.metrics` with ignored (255) label pixels counted
        as misses of their GT class (mmseg's convention); ``metrics_labelled``: the same on
        the labelled pixels only (precision of what the labels do say);
        ``ignored_fraction``: share of all label pixels that are 255; ``num_images``;
        ``confusion_matrix`` ((N, N) list) and ``unassigned`` (GT pixels per class whose
        label was 255).
    """
    work = functools.partial(_label_counts, label_dir=label_dir, num_classes=num_classes,
                             ignore_index=ignore_index)
    totals, num_images = parallel_sum(work, samples, nproc, progress)
    counter = ConfusionMatrix(num_classes, ignore_index, class_names)
    ignored = pixels = 0
    if totals is not None:
        counter.matrix, counter.unassigned, ignored, pixels = totals
    return dict(metrics=counter.metrics(count_unassigned=True),
                metrics_labelled=counter.metrics(count_unassigned=False),
                ignored_fraction=ignored / pixels if pixels else 0.0,
                num_images=num_images, confusion_matrix=counter.matrix.tolist(),
                unassigned=counter.unassigned.tolist())
