"""Visualisation: mmseg's visualizer for stage-1 predictions (``MapLocalVisualizer``, what
``tools/test.py --show-dir`` paints), masks in the dataset's palette (``mask_meta``) and the
pipeline figure (image / ground truth / map / pseudo labels)."""
from .figures import save_pipeline_figure
from .local_visualizer import MapLocalVisualizer, mask_classes, mask_meta

__all__ = ['MapLocalVisualizer', 'mask_classes', 'mask_meta', 'save_pipeline_figure']
