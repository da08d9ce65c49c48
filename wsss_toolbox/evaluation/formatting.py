"""What the tools and the pipeline write and print: metrics in percent, small tables.

The Python API (:func:`~.map_metrics.evaluate_maps`, :func:`~.label_metrics.evaluate_labels`,
:func:`~.map_metrics.map_precision_recall`, :func:`~.map_metrics.maps_iou_curve`,
:func:`~.lid.evaluate_peak_iou`, ``generate_pseudo_labels``) returns fractions in [0, 1].
Every JSON file and printed table of the tools and the pipeline gives them in percent with
two decimals, as mmseg's ``IoUMetric`` does (``np.round(value * 100, 2)``):
:func:`metrics_in_percent` converts an API result, keys unchanged.
"""
import math
from typing import Any, Dict, Mapping, Optional, Sequence

import numpy as np

#: decimals of a percentage in the files and tables (mmseg's IoUMetric rounds to 2)
PERCENT_DECIMALS = 2

#: keys of :meth:`ConfusionMatrix.metrics` that hold fractions (floats or per-class lists)
CONFUSION_KEYS = ('aAcc', 'mIoU', 'mAcc', 'mPrecision', 'IoU', 'Acc', 'Precision')
#: fraction keys of :func:`map_precision_recall` results
PRECISION_RECALL_KEYS = ('recall', 'precision', 'noise', 'per_class_recall',
                         'per_class_precision')


def to_percent(value: Any) -> Any:
    """``100 * value`` rounded to two decimals; a list element-wise; None stays None and
    NaN stays NaN (``null`` in the JSON files)."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [to_percent(item) for item in value]
    value = float(value)
    return value if math.isnan(value) else round(100 * value, PERCENT_DECIMALS)


def _fraction_keys(result: Mapping) -> Sequence[str]:
    """The keys of ``result`` that hold fractions, recognised by the keys only that kind of
    API result has (mmseg's metrics, already in percent, match none of them)."""
    if 'class_names' in result and 'IoU' in result:  # ConfusionMatrix.metrics()
        return CONFUSION_KEYS
    if 'per_class_recall' in result:  # map_precision_recall()
        return PRECISION_RECALL_KEYS
    if 'miou_curve' in result:  # evaluate_maps(): its best_metrics is converted on its own
        return ('miou_curve', )
    if 'peak_iou' in result and 'peak_threshold' in result:  # IoU-threshold curve (LID)
        return ('peak_iou', 'curve')
    return ()


def metrics_in_percent(result: Any) -> Any:
    """A copy of an API result -- or of a dict / list holding such results (a pipeline
    step's result, a tool's report) -- with every fraction in percent (:func:`to_percent`).

    Converted: :meth:`ConfusionMatrix.metrics` dicts, the ``miou_curve`` of
    :func:`evaluate_maps`, :func:`map_precision_recall` results, IoU-threshold curves
    (``curve``, ``peak_iou``) and every ``ignored_fraction``. Thresholds, counts and other
    values are copied unchanged. Apply it once: it does not know a converted result.
    """
    if isinstance(result, (list, tuple)):
        return [metrics_in_percent(item) for item in result]
    if not isinstance(result, Mapping):
        return result
    converted = {key: metrics_in_percent(value) for key, value in result.items()}
    for key in _fraction_keys(result):
        if key in result:
            converted[key] = to_percent(_plain(result[key]))
    if 'ignored_fraction' in result:
        converted['ignored_fraction'] = to_percent(result['ignored_fraction'])
    return converted


def _plain(value: Any) -> Any:
    """A numpy array as a list (curves may come as arrays)."""
    return value.tolist() if isinstance(value, np.ndarray) else value


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]],
                 title: Optional[str] = None) -> str:
    """A text table (``prettytable``, as mmseg's metric tables, when installed; else
    aligned plain columns)."""
    rows = [[str(cell) for cell in row] for row in rows]
    try:  # lazy: prettytable is optional (mmseg installs it; plain columns without it)
        from prettytable import PrettyTable
    except ImportError:
        widths = [max(len(str(row[i])) for row in [list(header)] + rows)
                  for i in range(len(header))]
        lines = ['  '.join(str(cell).rjust(width) for cell, width in zip(row, widths))
                 for row in [list(header)] + rows]
        return '\n'.join(([title] if title else []) + lines)
    table = PrettyTable(list(header))
    if title:
        table.title = title
    for row in rows:
        table.add_row(row)
    return table.get_string()


def format_value(value: Any) -> str:
    """A value for a table cell: floats with two decimals, lists and dicts compact."""
    if isinstance(value, float):
        return 'nan' if math.isnan(value) else f'{value:.2f}'
    if isinstance(value, (list, tuple)):
        return ' '.join(format_value(item) for item in value)
    if isinstance(value, dict):
        return ', '.join(f'{key}={format_value(item)}' for key, item in value.items())
    return str(value)


def format_summary_table(items: Dict[str, Any], title: Optional[str] = None) -> str:
    """A two-column table (name | value) of ``items``, in their order."""
    return format_table(['name', 'value'],
                        [[key, format_value(value)] for key, value in items.items()], title)
