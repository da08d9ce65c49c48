"""Plots of the HTML reports (:mod:`.report`) as ``data:`` URIs: the background-threshold
sweep, the LID IoU-threshold curve, per-class IoU bars, and maps as heat-map images."""
import base64
import io
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .run_records import PipelineRun


def figure_uri(fig) -> str:
    """A ``data:`` URI of a matplotlib figure as PNG (the figure is closed)."""
    import matplotlib.pyplot as plt  # lazy: matplotlib only for figures
    buffer = io.BytesIO()
    fig.savefig(buffer, format='png', dpi=100)
    plt.close(fig)
    return 'data:image/png;base64,' + base64.b64encode(buffer.getvalue()).decode()


def _pyplot():
    import matplotlib  # lazy: matplotlib only for figures
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def heat_map(values: np.ndarray) -> np.ndarray:
    """A map (HxW in 0..1) as a jet-coloured RGB uint8 image."""
    from matplotlib import colormaps  # lazy: matplotlib only for figures
    rgba = colormaps['jet'](np.clip(np.nan_to_num(values), 0, 1))
    return (255 * rgba[..., :3]).astype(np.uint8)


def sweep_plot(run: PipelineRun) -> List[str]:
    """Plots (data URIs) of each threshold sweep and LID IoU-threshold curve of the run."""
    plt, plots = _pyplot(), []
    for name in run.steps_with('threshold_sweep'):
        sweep = run.result(name)['threshold_sweep']
        fig, axis = plt.subplots(figsize=(5, 3.2))
        axis.plot(sweep['thresholds'], [100 * v for v in sweep['miou_curve']], marker='.')
        best = sweep['thresholds'].index(sweep['best_threshold'])
        axis.plot([sweep['best_threshold']], [100 * sweep['miou_curve'][best]], 'o',
                  color='C3', label=f'best {sweep["best_threshold"]:.2f}')
        axis.set(xlabel='background threshold', ylabel='mIoU %',
                 title=f'{name}: background-threshold sweep')
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
        fig.tight_layout()
        plots.append(figure_uri(fig))
    for name in run.steps_with('peak_iou'):
        result = run.result(name)
        fig, axis = plt.subplots(figsize=(5, 3.2))
        axis.plot(range(len(result['curve'])), [100 * v for v in result['curve']])
        axis.plot([result['peak_threshold']], [100 * result['peak_iou']], 'o', color='C3',
                  label=f'Peak-IoU {100 * result["peak_iou"]:.2f} @ {result["peak_threshold"]}')
        axis.set(xlabel='threshold t (0..255)', ylabel='IoU(t) %',
                 title=f'{name}: IoU-threshold curve')
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
        fig.tight_layout()
        plots.append(figure_uri(fig))
    return plots


def per_class_plot(entries: Sequence[Tuple[str, List[str], List[Optional[float]]]]) -> str:
    """Grouped horizontal bars: IoU % per class of each entry (a data URI)."""
    plt = _pyplot()
    classes: List[str] = []
    for _, names, _ in entries:
        classes += [name for name in names if name not in classes]
    height = 0.8 / len(entries)
    fig, axis = plt.subplots(figsize=(7, 0.6 + 0.22 * len(classes) * max(1, len(entries) / 2)))
    for index, (what, names, values) in enumerate(entries):
        by_class = dict(zip(names, values))
        positions = [k + index * height for k in range(len(classes))]
        axis.barh(positions, [by_class.get(name) or 0 for name in classes], height, label=what)
    axis.set_yticks([k + 0.4 - height / 2 for k in range(len(classes))], classes, fontsize=8)
    axis.invert_yaxis()
    axis.set(xlabel='IoU %', xlim=(0, 100), title='per-class IoU')
    axis.grid(axis='x', alpha=0.3)
    axis.legend(fontsize=7, loc='lower right')
    fig.tight_layout()
    return figure_uri(fig)
