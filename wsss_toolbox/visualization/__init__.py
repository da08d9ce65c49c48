"""Visualisation helpers (figures of image / ground truth / map / pseudo label)."""
from .figures import colourise, label_palette, save_pipeline_figure

__all__ = ['colourise', 'label_palette', 'save_pipeline_figure']
