"""Evaluation: confusion-matrix metrics, map threshold sweeps, pseudo-label scores, LID curve."""
from .classification_metric import MultiLabelMetric, average_precision
from .confusion import (
                        ConfusionMatrix,
                        confusion_counts,
                        confusion_matrix,
                        dump_metrics_json,
                        format_metrics_table,
                        to_jsonable,
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
    'MultiLabelMetric', 'average_precision',
    'ConfusionMatrix', 'confusion_counts', 'confusion_matrix', 'dump_metrics_json',
    'format_metrics_table', 'to_jsonable', 'evaluate_labels', 'lid_counts', 'lid_iou_curve',
    'scale_to_255', 'PARAMETER_LIMIT', 'count_parameters', 'parameter_rule',
    'format_parameter_rule', 'DEFAULT_THRESHOLDS', 'evaluate_maps', 'map_precision_recall',
    'maps_iou_curve'
]
