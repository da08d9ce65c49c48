"""IRN on a few training images of a finished CAM + IRN pipeline run: one row per image with
the image, its ground truth, the CAM (maximum over the image's classes), the IRN seeds (white:
ignored), the boundary map of the affinity network, the walked maps (maximum over classes,
divided by their maximum) and the random-walk labels, next to the threshold + CRF labels.

``--stats-images N`` also measures, on the first N images, the mean boundary probability on
the stride-4 grid at ground-truth edges (a 3x3 neighbour with another label), inside objects
and inside the background, and writes them to ``<out>.json``.

    .venv/bin/python tools/analysis/irn_figure.py configs/pipelines/cam-irn_synthetic.py \
        --work-dir work_dirs/irn/cam-irn --cfg-options data_root=data/synthetic_seenet \
        --images 4 --out docs/figures/irn_boundary.png
"""
import argparse
import json
import os
import os.path as osp

import matplotlib
import numpy as np
import torch
from mmengine.config import DictAction

from wsss_toolbox.maps.io import load_maps, map_path
from wsss_toolbox.methods.irn import image_boundary, refine_sample
from wsss_toolbox.methods.irn.affinity import strided_seeds
from wsss_toolbox.pipeline import PipelineRunner, load_pipeline_config
from wsss_toolbox.pseudo_labels import load_label, load_rgb_image
from wsss_toolbox.pseudo_labels.label_io import label_path
from wsss_toolbox.utils import register_all_modules
from wsss_toolbox.visualization import MapLocalVisualizer, legend_entries, mask_meta
from wsss_toolbox.visualization.figures import mask_legend_handles

# Agg draws to files without a display; the backend must be chosen before pyplot is imported
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='the CAM + IRN pipeline config of the run')
    parser.add_argument('--work-dir', required=True, help='the finished pipeline run')
    parser.add_argument('--images', type=int, default=4, help='rows of the figure')
    parser.add_argument('--first', type=int, default=0, help='index of the first image')
    parser.add_argument('--maps', default='maps')
    parser.add_argument('--seeds', default='irn_seeds')
    parser.add_argument('--walk', default='irn_labels')
    parser.add_argument('--crf', default='pseudo_labels_crf',
                        help='a label step shown for comparison ("" for none)')
    parser.add_argument('--stats-images', type=int, default=0,
                        help='boundary statistics on this many images (0: none)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--out', default='docs/figures/irn_boundary.png')
    return parser.parse_args()


def boundary_stats(model, samples, flip: bool) -> dict:
    """Mean boundary probability at GT edges, inside objects and inside the background."""
    sums, counts = np.zeros(3), np.zeros(3)
    for sample in samples:
        boundary = image_boundary(model, load_rgb_image(sample['img_path']), flip).numpy()
        # the ground truth read on the boundary grid as the seeds are (pixel 4i + 2)
        gt = strided_seeds(torch.from_numpy(load_label(sample['seg_map_path']))[None].long(),
                           model.stride, boundary.shape[-2:])[0].numpy().astype(int)
        padded = np.pad(gt, 1, mode='edge')
        edge = np.zeros(gt.shape, bool)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                edge |= padded[1 + dy:1 + dy + gt.shape[0], 1 + dx:1 + dx + gt.shape[1]] != gt
        valid = gt != 255
        for index, mask in enumerate((edge & valid, ~edge & valid & (gt > 0),
                                      ~edge & valid & (gt == 0))):
            sums[index] += boundary[mask].sum()
            counts[index] += mask.sum()
    means = sums / np.maximum(counts, 1)
    return dict(num_images=len(samples), edge=float(means[0]), object_interior=float(means[1]),
                background_interior=float(means[2]))


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=True)
    runner = PipelineRunner(load_pipeline_config(args.config, args.cfg_options), args.work_dir)
    maps_step, walk_step = runner.step(args.maps), runner.step(args.walk)
    samples, classes = maps_step.samples()
    samples = samples[args.first:args.first + args.images]
    model = walk_step.build_model()
    options = {key: walk_step.options[key] for key in
               ('beta', 'exp_times', 'radius', 'bg_threshold', 'power', 'flip')}
    meta = mask_meta(dict(classes=classes), len(classes) + 1)
    visualizer = MapLocalVisualizer(name='irn_figure')
    painted = []  # the masks shown, for the legend

    def paint(label):
        painted.append(label)
        return visualizer.draw_mask(label, dataset_meta=meta, alpha=1.0)

    titles = ['image', 'ground truth', 'CAM (max)', 'IRN seeds', 'boundary map',
              'walked maps (max)', 'random-walk labels']
    if args.crf:
        titles.append('threshold + CRF')
    fig, axes = plt.subplots(len(samples), len(titles), squeeze=False,
                             figsize=(2.0 * len(titles), 2.0 * len(samples)))
    for row, sample in enumerate(samples):
        image = load_rgb_image(sample['img_path'])
        record = load_maps(map_path(maps_step.out_dir, sample['img_id']),
                           img_id=sample['img_id'], tags=sample.get('gt_label'))
        refined = refine_sample(model, sample, maps_step.out_dir, image, **options)
        heat = record['maps'].max(0) if len(record['maps']) else np.zeros(image.shape[:2])
        walked = refined['walked'].max(0) if len(refined['walked']) else \
            np.zeros_like(refined['boundary'])
        panels = [image, paint(load_label(sample['seg_map_path'])), heat,
                  paint(load_label(label_path(runner.step(args.seeds).out_dir,
                                              sample['img_id']))),
                  refined['boundary'], walked / max(float(walked.max()), 1e-5),
                  paint(load_label(label_path(walk_step.out_dir, sample['img_id'])))]
        if args.crf:
            panels.append(paint(load_label(label_path(runner.step(args.crf).out_dir,
                                                      sample['img_id']))))
        for col, panel in enumerate(panels):
            axis = axes[row, col]
            axis.imshow(panel, cmap='gray_r' if titles[col] == 'boundary map' else 'jet',
                        vmin=0, vmax=1) if panel.ndim == 2 else axis.imshow(panel)
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(titles[col], fontsize=8)
        axes[row, 0].set_ylabel(sample['img_id'], fontsize=7)
    entries = legend_entries(painted, meta)  # the classes shown, in their colours
    fig.tight_layout(rect=(0, 0.35 / fig.get_figheight(), 1, 1))
    fig.legend(handles=mask_legend_handles(entries), loc='lower center', frameon=False,
               ncol=max(1, min(len(entries), len(titles))), fontsize=7)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=90)
    plt.close(fig)
    print(f'figure: {args.out}')
    if args.stats_images:
        all_samples = maps_step.samples()[0][:args.stats_images]
        stats = boundary_stats(model, all_samples, walk_step.options['flip'])
        with open(osp.splitext(args.out)[0] + '.json', 'w') as f:
            json.dump(stats, f, indent=2)
        print(stats)


if __name__ == '__main__':
    main()
