"""How OAA's cumulative maps grow during training (the paper's Fig. 1 / 10 and Fig. 11).

The recorder saves a copy of the cumulative maps after every epoch when its ``snapshot_ids``
is set ('all' for the curve). Train with it, e.g.

    .venv/bin/python tools/train.py configs/oaa/oaa_tiny_1xb16-8e_synthetic-128x128.py \
        --work-dir work_dirs/oaa_growth \
        --cfg-options custom_hooks.0.export.snapshot_ids=all
    .venv/bin/python tools/train.py configs/oaa/oaa-drop_tiny_1xb16-8e_synthetic-128x128.py \
        --work-dir work_dirs/oaa-drop_growth --cfg-options custom_hooks.0.export.snapshot_ids=all

(with tools/pipeline.py:
``--cfg-options stage1.cfg_options.custom_hooks.0.export.snapshot_ids=all``;
the run is then ``<work_dir>/stage1``), then

    .venv/bin/python tools/analysis/oaa_growth_figure.py work_dirs/oaa_growth \
        work_dirs/oaa-drop_growth \
        --labels OAA OAA++ --config configs/oaa/oaa_tiny_1xb16-8e_synthetic-128x128.py \
        --out growth.png

Top: a few training images, their ground truth and their cumulative map (maximum over the
image's classes) after every epoch, one row per image and run. Bottom: the fraction of the
ground-truth object pixels that the cumulative maps cover (map >= 50 % of its maximum, the
recall of :func:`wsss_toolbox.evaluation.map_precision_recall`, pooled over all images with
snapshots) after every epoch (Fig. 11); the precision is written to the JSON output.
"""
import argparse
import glob
import json
import os.path as osp
import pickle
import tempfile
import warnings
from typing import Dict, List, Optional

import matplotlib
import mmcv
from mmengine.config import DictAction

from wsss_toolbox.engine.config import load_config
from wsss_toolbox.evaluation import map_precision_recall, to_percent
from wsss_toolbox.evaluation.utils import load_ground_truth
from wsss_toolbox.methods.oaa.store import CumulativeMapStore
from wsss_toolbox.pseudo_labels import samples_from_dataset_cfg
from wsss_toolbox.visualization import MapLocalVisualizer, mask_meta

# Agg draws to files without a display; the backend must be chosen before pyplot is imported
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def snapshot_files(run_dir: str, snapshot_dir: str) -> List[str]:
    files = sorted(glob.glob(osp.join(run_dir, snapshot_dir, 'epoch_*.pkl')))
    if not files:
        raise FileNotFoundError(
            f'no snapshots in {osp.join(run_dir, snapshot_dir)}: train with the recorder option '
            "export=dict(snapshot_ids='all') "
            '(--cfg-options custom_hooks.0.export.snapshot_ids=all)')
    return files


def load_snapshot(path: str):
    with open(path, 'rb') as f:
        state = pickle.load(f)
    return state.get('epoch'), CumulativeMapStore.from_state_dict(state)


def growth_curve(files: List[str], samples: List[dict], num_classes: int,
                 nproc: int = 1) -> List[dict]:
    """Recall / precision at 50 % of the maximum of every snapshot's maps."""
    by_id = {sample['img_id']: sample for sample in samples}
    points = []
    for path in files:
        epoch, store = load_snapshot(path)
        chosen = [by_id[i] for i in store.img_ids()
                  if i in by_id and by_id[i].get('seg_map_path')]
        with tempfile.TemporaryDirectory(prefix='oaa_growth_') as tmp, \
                warnings.catch_warnings():
            warnings.simplefilter('ignore')  # early epochs: classes without a map yet
            store.export(tmp, img_ids=[s['img_id'] for s in chosen])
            metrics = map_precision_recall(chosen, tmp, num_classes, nproc=nproc)
        points.append(dict(epoch=epoch, recall=metrics['recall'],
                           precision=metrics['precision'], images=len(chosen)))
    return points


def draw(runs: Dict[str, dict], samples: List[dict], image_ids: List[str], num_classes: int,
         out_file: str, dataset_meta: Optional[dict] = None) -> None:
    by_id = {sample['img_id']: sample for sample in samples}
    epochs = max(len(run['files']) for run in runs.values())
    rows = len(image_ids) * len(runs)
    cols = 2 + epochs
    fig = plt.figure(figsize=(1.6 * cols, 1.6 * rows + 3.2))
    grid = fig.add_gridspec(rows + 2, cols, height_ratios=[1] * rows + [0.15, 1.8])
    visualizer = MapLocalVisualizer(name='oaa_growth_figure')
    meta = mask_meta(dataset_meta, num_classes)  # the dataset's palette (mmseg's)
    row = 0
    for img_id in image_ids:
        sample = by_id[img_id]
        image = mmcv.imread(sample['img_path'], channel_order='rgb')
        for name, run in runs.items():
            axes = [fig.add_subplot(grid[row, col]) for col in range(cols)]
            axes[0].imshow(image)
            axes[0].set_ylabel(f'{name}\n{img_id}', fontsize=7)
            if sample.get('seg_map_path'):
                axes[1].imshow(visualizer.draw_mask(load_ground_truth(sample), dataset_meta=meta,
                                                        alpha=1.0))
            for index, path in enumerate(run['files']):
                epoch, store = load_snapshot(path)
                if img_id in store:
                    _, maps = store.export_image(img_id)
                    axes[2 + index].imshow(image)
                    axes[2 + index].imshow(maps.max(axis=0), cmap='jet', alpha=0.55,
                                           vmin=0, vmax=1)
                if row == 0:
                    axes[2 + index].set_title(f'epoch {epoch}', fontsize=8)
            if row == 0:
                axes[0].set_title('image', fontsize=8)
                axes[1].set_title('ground truth', fontsize=8)
            for axis in axes:
                axis.set_xticks([])
                axis.set_yticks([])
            row += 1
    curve = fig.add_subplot(grid[rows + 1, :])
    for name, run in runs.items():
        points = run['curve']
        curve.plot([p['epoch'] for p in points], [100 * p['recall'] for p in points],
                   marker='o', label=name)
    curve.xaxis.set_major_locator(MaxNLocator(integer=True))
    curve.set_xlabel('epoch')
    curve.set_ylabel('object pixels covered (%)')
    curve.set_title('cumulative maps >= 50 % of max vs ground truth (Fig. 11)', fontsize=9)
    curve.grid(alpha=0.3)
    curve.legend()
    fig.tight_layout()
    fig.savefig(out_file, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(
        description='Figure of the cumulative maps over epochs',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('runs', nargs='+', help='stage-1 work dirs with snapshots')
    parser.add_argument('--config', required=True,
                        help='stage-1 config (its train dataset gives images and masks)')
    parser.add_argument('--labels', nargs='+', help='one name per run')
    parser.add_argument('--data-root', help='override the dataset data_root')
    parser.add_argument('--images', type=int, default=4, help='images shown')
    parser.add_argument('--ids', nargs='+', help='image ids shown (default: the first ones)')
    parser.add_argument('--snapshot-dir', default='cumulative_map_snapshots')
    parser.add_argument('--nproc', type=int, default=1)
    parser.add_argument('--out', default='oaa_growth.png')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    labels = args.labels or [osp.basename(osp.normpath(run)) for run in args.runs]
    if len(labels) != len(args.runs):
        raise ValueError(f'{len(args.runs)} runs but {len(labels)} labels')
    cfg = load_config(args.config)  # a syntax error names the file and line
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    dataset_cfg = cfg.train_dataloader.dataset
    if args.data_root:
        dataset_cfg.data_root = args.data_root
    samples, metainfo = samples_from_dataset_cfg(dataset_cfg)
    num_classes = len(metainfo['classes']) + 1

    runs: Dict[str, dict] = {}
    for label, run_dir in zip(labels, args.runs):
        files = snapshot_files(run_dir, args.snapshot_dir)
        runs[label] = dict(files=files, curve=growth_curve(files, samples, num_classes,
                                                            args.nproc))
        for point in runs[label]['curve']:
            print(f'{label:<12} epoch {point["epoch"]:>3}: covered {100 * point["recall"]:.1f} %'
                  f'  precision {100 * point["precision"]:.1f} %  ({point["images"]} images)')
    first_store = load_snapshot(next(iter(runs.values()))['files'][-1])[1]
    image_ids: Optional[List[str]] = args.ids
    if image_ids is None:
        image_ids = [s['img_id'] for s in samples if s['img_id'] in first_store][:args.images]
    draw(runs, samples, image_ids, num_classes, args.out, dataset_meta=metainfo)
    with open(osp.splitext(args.out)[0] + '.json', 'w') as f:
        # recall and precision in percent, as every metric file of the toolbox
        json.dump({label: [dict(point, recall=to_percent(point['recall']),
                                precision=to_percent(point['precision']))
                           for point in run['curve']] for label, run in runs.items()},
                  f, indent=2)
    print(f'figure: {args.out}')


if __name__ == '__main__':
    main()
