"""Visualisation: mmseg's visualizer for stage-1 predictions (``MapLocalVisualizer``, what
``tools/test.py --show-dir`` paints), masks in the dataset's palette (``mask_meta``) with a
legend of their classes, the pipeline figure (image / ground truth / map / pseudo labels) and
the HTML reports of pipeline runs (``write_pipeline_report``, ``write_comparison_report``)."""
from .figures import pipeline_figure, save_pipeline_figure
from .local_visualizer import MapLocalVisualizer, legend_entries, mask_classes, mask_meta
from .report import write_comparison_report, write_pipeline_report
from .run_records import PipelineRun

__all__ = ['MapLocalVisualizer', 'PipelineRun', 'legend_entries', 'mask_classes', 'mask_meta',
           'pipeline_figure', 'save_pipeline_figure', 'write_comparison_report',
           'write_pipeline_report']
