"""Figures: image / ground truth / localization map / pseudo labels, one row per image."""
import os.path as osp
from typing import Sequence

import numpy as np


def label_palette(num_classes: int) -> np.ndarray:
    """VOC-style colour palette (uint8 (256, 3)); index 255 (ignore) is white."""
    palette = np.zeros((256, 3), np.uint8)
    for index in range(256):
        value, colour = index, np.zeros(3, np.int64)
        for bit in range(8):
            for channel in range(3):
                colour[channel] |= ((value >> channel) & 1) << (7 - bit)
            value >>= 3
        palette[index] = colour
    palette[255] = 255
    return palette


def colourise(label: np.ndarray, palette: np.ndarray) -> np.ndarray:
    return palette[label.astype(np.int64).clip(0, 255)]


def save_pipeline_figure(samples: Sequence[dict], map_dir: str, label_dirs: Sequence[str],
                         num_classes: int, out_file: str) -> str:
    """Save a grid (one row per sample): image, GT, max over class maps, each label folder."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from wsss_toolbox.maps.io import load_maps, map_path
    from wsss_toolbox.pseudo_labels import load_label, load_rgb_image
    from wsss_toolbox.pseudo_labels.label_io import label_path

    palette = label_palette(num_classes)
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
            panels.append(colourise(load_label(sample['seg_map_path']), palette))
        else:
            panels.append(np.zeros_like(image))
        panels.append(heat)
        panels += [colourise(load_label(label_path(folder, sample['img_id'])), palette)
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
