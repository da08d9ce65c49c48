"""SeeNet's masks on a few training images (the paper's Figs. 2 and 4), and zone statistics.

    python tools/analysis/seenet_figure.py \
        --run SeeNet configs/seenet/seenet_tiny_1xb16-8e_synthetic-128x128.py \
            work_dirs/compare/seenet/stage1/epoch_8.pth \
        --run "setting 2" configs/seenet/seenet-nosignflip_tiny_1xb16-8e_synthetic-128x128.py \
            work_dirs/compare/seenet-nosignflip/stage1/epoch_8.pth \
        --data-root data/synthetic --images 4 --stats-images 300 --out docs/figures/seenet_masks.png

One row per image: the image and its ground truth, then for every run S_A's attention M_A
(maximum over the image's classes of the min-max normalised maps, the input of the masks),
the zones of the ternary mask T_A (yellow: attention zone, erased; dark: background zone,
sign-flipped by SeeNet, zeroed by setting 2; grey: potential zone, kept), S_B's map
(maximum over the image's classes, divided by its maximum) and the inference map
max(M^_A, M^_B). One forward pass at the original size, no flip (stage 2 adds the flipped
image).

``--stats-images N`` also measures, on the first N training images, where the ground truth
falls in T_A's zones (the paper: "the background zone covers most of the real background"):
the fraction of background pixels in the background zone, of object pixels in each zone, the
recall of S_A's and of the fused map at 50 % of the maximum, and the fraction of background
pixels that S_A's, S_B's and the fused map reach at 50 % of their maximum. They go to
``<out>.json``.
"""
import argparse
import json
import os.path as osp
from typing import Dict, List, Sequence

import matplotlib
import mmcv
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmengine.utils import import_modules_from_strings

from wsss_toolbox.evaluation import to_percent
from wsss_toolbox.maps.normalize import normalize_maps
from wsss_toolbox.methods.seenet import ternary_mask
from wsss_toolbox.registry import DATASETS, MODELS
from wsss_toolbox.structures import WSSSDataSample
from wsss_toolbox.utils import register_all_modules

# Agg draws to files without a display; the backend must be chosen before pyplot is imported
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--run', nargs=3, action='append', required=True,
                        metavar=('LABEL', 'CONFIG', 'CHECKPOINT'),
                        help='a trained SeeNet classifier (repeat for several runs)')
    parser.add_argument('--data-root', help='benchmark folder (default: the config\'s)')
    parser.add_argument('--images', type=int, default=4, help='rows of the figure')
    parser.add_argument('--first', type=int, default=0, help='index of the first image')
    parser.add_argument('--stats-images', type=int, default=0,
                        help='measure the zones on this many training images (0: none)')
    parser.add_argument('--dpi', type=int, default=80)
    parser.add_argument('--out', default='seenet_masks.png')
    return parser.parse_args()


def load_run(config: str, checkpoint: str, data_root: str = None):
    """(model, training samples, class names) of a SeeNet config and checkpoint."""
    register_all_modules(init_default_scope=False)
    init_default_scope('wsss_toolbox')
    cfg = Config.fromfile(config)
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    if cfg.model.head.type != 'SeeNetHead':
        raise ValueError(f'{config}: the head is {cfg.model.head.type}, not SeeNetHead; the '
                         'figure shows SeeNet\'s masks')
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint} does not exist; train {config} '
                                'first (tools/train.py or the pipeline\'s stage1 step)')
    model = MODELS.build(cfg.model)
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True, logger='silent')
    model.eval()
    dataset_cfg = dict(cfg.train_dataloader.dataset, pipeline=[])
    if data_root:
        dataset_cfg['data_root'] = data_root
    dataset = DATASETS.build(dataset_cfg)
    samples = [dataset.get_data_info(i) for i in range(len(dataset))]
    return model, samples, list(dataset.metainfo['classes'])


def forward_image(model, sample: dict) -> Dict[str, np.ndarray]:
    """One view of one image: M_A, T_A, S_B's and the fused map (max over the image's
    classes), all at the image size, and the ground truth."""
    image = mmcv.imread(sample['img_path'], channel_order='bgr')
    if image is None:
        raise FileNotFoundError(f"image {sample['img_path']} is missing or unreadable")
    height, width = image.shape[:2]
    data_sample = WSSSDataSample(metainfo=dict(img_shape=(height, width),
                                               img_id=sample['img_id']))
    data_sample.gt_label = torch.as_tensor(np.asarray(sample['gt_label']), dtype=torch.float32)
    data = model.data_preprocessor(dict(
        inputs=[torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))],
        data_samples=[data_sample]), False)
    with torch.no_grad():
        outputs = model(**data, mode='tensor')
        fused = model.head.localization_maps(outputs)
    classes = torch.from_numpy(np.flatnonzero(np.asarray(sample['gt_label']) > 0))

    def up(maps, mode='bilinear'):
        extra = {} if mode == 'nearest' else dict(align_corners=False)
        return F.interpolate(maps.float(), size=data['inputs'].shape[-2:], mode=mode,
                             **extra)[0, :, :height, :width]

    branch_b = normalize_maps(F.relu(outputs['cams_b'][:, classes]), 'max')
    head = model.head
    # T_A's three zones whatever the background value (setting 2 zeroes it): -1 background,
    # 0 attention (erased), 1 potential
    zones = ternary_mask(outputs['attention'], head.high_threshold, head.low_threshold,
                         head.threshold_rule, flip_background=True)
    result = dict(
        image=mmcv.bgr2rgb(image),
        attention=up(outputs['attention'])[0].numpy(),
        ternary=up(zones, 'nearest')[0].numpy(),
        branch_b=up(branch_b).amax(0).numpy(),
        fused=up(fused[:, classes]).amax(0).numpy(),
        attention_a=up(normalize_maps(F.relu(outputs['cams'][:, classes]), 'max')).amax(0)
        .numpy())
    seg = sample.get('seg_map_path')
    result['gt'] = mmcv.imread(seg, flag='unchanged') if seg else None
    return result


def zone_stats(model, samples: Sequence[dict]) -> Dict[str, float]:
    """Pixel shares of the ground truth in T_A's zones, pooled over ``samples``, in percent
    (two decimals, as every metric file of the toolbox)."""
    counts = dict(bg=0, bg_in_bg_zone=0, bg_in_attention=0, obj=0, obj_in_attention=0,
                  obj_in_potential=0, obj_in_bg_zone=0, obj_a50=0, obj_fused50=0, bg_a50=0,
                  bg_b50=0, bg_fused50=0)
    for sample in samples:
        out = forward_image(model, sample)
        if out['gt'] is None:
            raise ValueError(f"image {sample['img_id']} has no ground-truth mask "
                             '(seg_map_path); zone statistics need masks')
        gt = out['gt']
        background, objects = gt == 0, (gt > 0) & (gt != 255)
        ternary = out['ternary']
        counts['bg'] += int(background.sum())
        counts['bg_in_bg_zone'] += int((background & (ternary < 0)).sum())
        counts['bg_in_attention'] += int((background & (ternary == 0)).sum())
        counts['obj'] += int(objects.sum())
        counts['obj_in_attention'] += int((objects & (ternary == 0)).sum())
        counts['obj_in_potential'] += int((objects & (ternary > 0)).sum())
        counts['obj_in_bg_zone'] += int((objects & (ternary < 0)).sum())
        counts['obj_a50'] += int((objects & (out['attention_a'] >= 0.5)).sum())
        counts['obj_fused50'] += int((objects & (out['fused'] >= 0.5)).sum())
        counts['bg_a50'] += int((background & (out['attention_a'] >= 0.5)).sum())
        counts['bg_b50'] += int((background & (out['branch_b'] >= 0.5)).sum())
        counts['bg_fused50'] += int((background & (out['fused'] >= 0.5)).sum())
    bg, obj = max(counts['bg'], 1), max(counts['obj'], 1)
    return dict(
        images=len(samples),
        background_in_background_zone=to_percent(counts['bg_in_bg_zone'] / bg),
        background_in_attention_zone=to_percent(counts['bg_in_attention'] / bg),
        object_in_attention_zone=to_percent(counts['obj_in_attention'] / obj),
        object_in_potential_zone=to_percent(counts['obj_in_potential'] / obj),
        object_in_background_zone=to_percent(counts['obj_in_bg_zone'] / obj),
        object_recall_s_a_50=to_percent(counts['obj_a50'] / obj),
        object_recall_fused_50=to_percent(counts['obj_fused50'] / obj),
        background_in_s_a_50=to_percent(counts['bg_a50'] / bg),
        background_in_s_b_50=to_percent(counts['bg_b50'] / bg),
        background_in_fused_50=to_percent(counts['bg_fused50'] / bg))


def draw(rows: List[List[Dict[str, np.ndarray]]], labels: Sequence[str], path: str,
         dpi: int = 80) -> None:
    ternary_cmap = ListedColormap([(0.1, 0.1, 0.3), (1.0, 0.85, 0.1), (0.6, 0.6, 0.6)])
    columns = ['image', 'ground truth']
    for label in labels:
        columns += [f'{label}: M_A (S_A)', f'{label}: T_A zones', f'{label}: S_B',
                    f'{label}: max(A, B)']
    fig, axes = plt.subplots(len(rows), len(columns), squeeze=False,
                             figsize=(1.6 * len(columns), 1.7 * len(rows)))
    for r, runs in enumerate(rows):
        first = runs[0]
        panels = [(first['image'], {}), (first['gt'], dict(cmap='tab10', vmin=0, vmax=9,
                                                           interpolation='nearest'))]
        for out in runs:
            # T_A in {-1, 0, 1} -> colour indices 0 (background), 1 (erased), 2 (potential)
            ternary = np.select([out['ternary'] < 0, out['ternary'] == 0], [0, 1], 2)
            panels += [(out['attention'], dict(cmap='jet', vmin=0, vmax=1)),
                       (ternary, dict(cmap=ternary_cmap, vmin=0, vmax=2,
                                      interpolation='nearest')),
                       (out['branch_b'], dict(cmap='jet', vmin=0, vmax=1)),
                       (out['fused'], dict(cmap='jet', vmin=0, vmax=1))]
        for c, (panel, style) in enumerate(panels):
            ax = axes[r, c]
            if panel is not None:
                gt = panel if c == 1 else None
                if gt is not None:
                    panel = np.where(gt == 255, 0, gt)
                ax.imshow(panel, **style)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(columns[c], fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def main() -> None:
    args = parse_args()
    labels, rows, stats = [], None, {}
    for label, config, checkpoint in args.run:
        model, samples, _ = load_run(config, checkpoint, args.data_root)
        chosen = samples[args.first:args.first + args.images]
        if not chosen:
            raise ValueError(f'no training images from index {args.first} ({len(samples)} in '
                             'the dataset)')
        outs = [forward_image(model, sample) for sample in chosen]
        rows = [[out] for out in outs] if rows is None else [
            row + [out] for row, out in zip(rows, outs)]
        labels.append(label)
        if args.stats_images:
            stats[label] = zone_stats(model, samples[:args.stats_images])
            print(label, json.dumps(stats[label], indent=1))
    draw(rows, labels, args.out, args.dpi)
    print(f'figure: {args.out}')
    if stats:
        path = osp.splitext(args.out)[0] + '.json'
        with open(path, 'w') as f:
            json.dump(dict(runs={label: dict(config=config, checkpoint=checkpoint)
                                 for label, config, checkpoint in args.run},
                           zones=stats), f, indent=2)
        print(f'zone statistics: {path}')


if __name__ == '__main__':
    main()
