"""Figures: image / ground truth / localization map / pseudo labels, one row per image, with a
legend of the classes shown."""
import os.path as osp
import textwrap
from typing import List, Optional, Sequence, Tuple

import numpy as np

from wsss_toolbox.maps.io import load_maps, map_path
from wsss_toolbox.pseudo_labels import load_label, load_rgb_image
from wsss_toolbox.pseudo_labels.label_io import label_path

from .local_visualizer import MapLocalVisualizer, legend_entries, mask_meta

#: panel width in inches: an image of ``PIXELS_PER_INCH`` pixels a side fills one inch, within
#: these bounds (a 64 px image is not drawn on a stamp, a 512 px one not on a poster)
PANEL_INCHES = (1.6, 4.0)
PIXELS_PER_INCH = 128


def panel_layout(image_size: Sequence[int]) -> Tuple[float, float]:
    """``(panel width in inches, title font size in points)`` for images of ``image_size``
    (H, W): both grow with the image, so that titles stay readable and within their panel."""
    inches = float(np.clip(max(image_size[:2]) / PIXELS_PER_INCH, *PANEL_INCHES))
    return inches, 6.0 + 1.5 * inches


def wrap_title(title: str, inches: float, fontsize: float) -> str:
    """``title`` broken into lines that fit a panel ``inches`` wide (an average glyph is about
    0.6 of the font size wide); long names (``pseudo_labels_crf``) break at underscores first."""
    width = max(4, int(0.9 * inches * 72 / (0.6 * fontsize)))
    return '\n'.join(textwrap.wrap(title.replace('_', '_ '), width)).replace('_ ', '_')


def mask_legend_handles(entries: Sequence[tuple]) -> List:
    """matplotlib patches for :func:`legend_entries` (edged, so that black and white show)."""
    from matplotlib.patches import Patch  # lazy: matplotlib only for figures
    return [Patch(facecolor=np.array(colour) / 255, edgecolor='0.4', label=name)
            for name, colour in entries]


def pipeline_figure(samples: Sequence[dict], map_dir: str, label_dirs: Sequence[str],
                    num_classes: int, dataset_meta: Optional[dict] = None,
                    palette: Optional[Sequence[Sequence[int]]] = None):
    """The figure of :func:`save_pipeline_figure` (a matplotlib ``Figure``, not saved)."""
    import matplotlib  # lazy: matplotlib only for figures
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    meta = mask_meta(dataset_meta, num_classes, palette)
    visualizer = MapLocalVisualizer(name='wsss_toolbox_figure')  # standalone instance
    rows, masks = [], []
    for sample in samples:
        image = load_rgb_image(sample['img_path'])
        maps = load_maps(map_path(map_dir, sample['img_id']), img_id=sample['img_id'],
                         tags=sample.get('gt_label'))['maps']
        heat = maps.max(axis=0) if len(maps) else np.zeros(image.shape[:2], np.float32)
        labels = ([load_label(sample['seg_map_path'])] if sample.get('seg_map_path') else
                  [None])
        labels += [load_label(label_path(folder, sample['img_id'])) for folder in label_dirs]
        masks += [label for label in labels if label is not None]
        painted = [np.zeros_like(image) if label is None else
                   visualizer.draw_mask(label, dataset_meta=meta, alpha=1.0)
                   for label in labels]
        rows.append([image, painted[0], heat] + painted[1:])

    titles = ['image', 'ground truth', 'map (max over classes)'] + [
        osp.basename(folder.rstrip('/')) for folder in label_dirs]
    image_size = rows[0][0].shape[:2] if rows else (64, 64)
    inches, fontsize = panel_layout(image_size)
    aspect = image_size[0] / image_size[1]
    entries = legend_entries(masks, meta)
    legend_rows = -(-len(entries) // max(1, len(titles)))
    legend_inches = 0.25 * fontsize / 8 * legend_rows + 0.2 if entries else 0
    fig, axes = plt.subplots(
        len(rows), len(titles), squeeze=False,
        figsize=(inches * len(titles), inches * aspect * len(rows) + legend_inches + 0.6))
    for row, panels in enumerate(rows):
        for col, panel in enumerate(panels):
            axis = axes[row, col]
            axis.imshow(panel, cmap='jet' if panel.ndim == 2 else None, vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(wrap_title(titles[col], inches, fontsize), fontsize=fontsize)
        axes[row, 0].set_ylabel(samples[row]['img_id'], fontsize=0.85 * fontsize)
    # tight_layout leaves out figure legends: keep a strip at the bottom for it
    fig.tight_layout(rect=(0, legend_inches / fig.get_figheight(), 1, 1))
    if entries:
        fig.legend(handles=mask_legend_handles(entries), loc='lower center',
                   ncol=min(len(entries), len(titles)), fontsize=0.9 * fontsize,
                   frameon=False, handlelength=1.2, columnspacing=1.0)
    return fig


def save_pipeline_figure(samples: Sequence[dict], map_dir: str, label_dirs: Sequence[str],
                         num_classes: int, out_file: str, dataset_meta: Optional[dict] = None,
                         palette: Optional[Sequence[Sequence[int]]] = None) -> str:
    """Save a grid (one row per sample): image, GT, max over class maps, each label folder,
    and below it a legend of the classes in the masks shown (name and colour).

    Masks are painted by mmseg's visualizer (:meth:`MapLocalVisualizer.draw_mask`) in the
    palette of :func:`~wsss_toolbox.visualization.mask_meta`: ``palette``, else the one of
    ``dataset_meta`` (a dataset's metainfo; foreground classes are enough), else that of the
    mmseg dataset with the same classes (VOC), else mmseg's generated palette for
    ``num_classes`` classes with a black background. Ignored pixels are white. Panel size and
    title font grow with the image size (:func:`panel_layout`); titles wrap to their panel.
    """
    import matplotlib.pyplot as plt  # lazy: matplotlib only for figures

    fig = pipeline_figure(samples, map_dir, label_dirs, num_classes, dataset_meta, palette)
    fig.savefig(out_file, dpi=100)
    plt.close(fig)
    return out_file
