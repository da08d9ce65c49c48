"""Figures: image / ground truth / localization map / pseudo labels, one row per image."""
import os.path as osp
from typing import Optional, Sequence

import numpy as np

from wsss_toolbox.maps.io import load_maps, map_path
from wsss_toolbox.pseudo_labels import load_label, load_rgb_image
from wsss_toolbox.pseudo_labels.label_io import label_path

from .local_visualizer import MapLocalVisualizer, mask_meta


def save_pipeline_figure(samples: Sequence[dict], map_dir: str, label_dirs: Sequence[str],
                         num_classes: int, out_file: str, dataset_meta: Optional[dict] = None,
                         palette: Optional[Sequence[Sequence[int]]] = None) -> str:
    """Save a grid (one row per sample): image, GT, max over class maps, each label folder.

    Masks are painted by mmseg's visualizer (:meth:`MapLocalVisualizer.draw_mask`) in the
    palette of :func:`~wsss_toolbox.visualization.mask_meta`: ``palette``, else the one of
    ``dataset_meta`` (a dataset's metainfo; foreground classes are enough), else that of the
    mmseg dataset with the same classes (VOC), else mmseg's generated palette for
    ``num_classes`` classes (background included). Ignored pixels are white.
    """
    import matplotlib  # lazy: matplotlib only for figures
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    meta = mask_meta(dataset_meta, num_classes, palette)
    visualizer = MapLocalVisualizer(name='wsss_toolbox_figure')  # standalone instance

    def paint(label):
        return visualizer.draw_mask(label, dataset_meta=meta, alpha=1.0)

    titles = ['image', 'ground truth', 'map (max over classes)'] + [
        osp.basename(folder.rstrip('/')) for folder in label_dirs]
    fig, axes = plt.subplots(len(samples), len(titles), squeeze=False,
                             figsize=(2.2 * len(titles), 2.2 * len(samples)))
    for row, sample in enumerate(samples):
        image = load_rgb_image(sample['img_path'])
        maps = load_maps(map_path(map_dir, sample['img_id']), img_id=sample['img_id'],
                         tags=sample.get('gt_label'))['maps']
        heat = maps.max(axis=0) if len(maps) else np.zeros(image.shape[:2], np.float32)
        panels = [image]
        if sample.get('seg_map_path'):
            panels.append(paint(load_label(sample['seg_map_path'])))
        else:
            panels.append(np.zeros_like(image))
        panels.append(heat)
        panels += [paint(load_label(label_path(folder, sample['img_id'])))
                   for folder in label_dirs]
        for col, panel in enumerate(panels):
            axis = axes[row, col]
            axis.imshow(panel, cmap='jet' if panel.ndim == 2 else None, vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(titles[col], fontsize=8)
        axes[row, 0].set_ylabel(sample['img_id'], fontsize=7)
    fig.tight_layout()
    fig.savefig(out_file, dpi=100)
    plt.close(fig)
    return out_file
