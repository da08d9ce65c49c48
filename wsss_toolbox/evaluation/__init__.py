"""Evaluation: confusion-matrix metrics, map threshold sweeps, pseudo-label scores, LID curve.

The functions return fractions in [0, 1]; the tools' JSON files and tables give percentages
(:func:`metrics_in_percent`)."""
import warnings
from typing import Any

from . import classification_metric
from .classification_metric import ImageLabelMetric, average_precision
from .confusion import (
    ConfusionMatrix,
    confusion_counts,
    confusion_matrix,
    dump_metrics_json,
    format_metrics_table,
    to_jsonable,
)
from .formatting import (
    format_summary_table,
    format_table,
    format_value,
    metrics_in_percent,
    to_percent,
)
from .label_metrics import evaluate_labels
from .lid import (
    PARAMETER_LIMIT,
    count_parameters,
    format_parameter_rule,
    lid_counts,
    lid_iou_curve,
    parameter_rule,
    scale_to_255,
)
from .map_metrics import DEFAULT_THRESHOLDS, evaluate_maps, map_precision_recall, maps_iou_curve

__all__ = [
    'ImageLabelMetric', 'average_precision',
    'ConfusionMatrix', 'confusion_counts', 'confusion_matrix', 'dump_metrics_json',
    'format_metrics_table', 'to_jsonable', 'evaluate_labels', 'lid_counts', 'lid_iou_curve',
    'scale_to_255', 'PARAMETER_LIMIT', 'count_parameters', 'parameter_rule',
    'format_parameter_rule', 'DEFAULT_THRESHOLDS', 'evaluate_maps', 'map_precision_recall',
    'maps_iou_curve', 'format_summary_table', 'format_table', 'format_value',
    'metrics_in_percent', 'to_percent'
]


def __getattr__(name: str) -> Any:
    """``MultiLabelMetric``, the former name of :class:`ImageLabelMetric`, resolves for one
    version with a DeprecationWarning naming the new one."""
    if name == 'MultiLabelMetric':
        warnings.warn(classification_metric._RENAMED, DeprecationWarning, stacklevel=3)
        return classification_metric._MultiLabelMetric
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
