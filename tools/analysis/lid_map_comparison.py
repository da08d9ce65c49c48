"""Map files of several runs scored side by side with the LID 2020 track-3 metric and map mIoU
(the comparison table of configs/lid/README.md).

    .venv/bin/python tools/analysis/lid_map_comparison.py \
        configs/lid/cam_tiny_1xb16-10e_synthetic-many-96x96.py --split val \
        --run "CAM" work_dirs/lid14/cam/maps_val \
        --run "CAM + TAP" work_dirs/lid14/cam-tap/maps_val \
        --out work_dirs/lid14/table.json

For every run: Peak-IoU and Peak-Threshold of the class-agnostic map (max over the image's
classes) with the max reference (the track's metric as the toolbox reads it) and with the
``--percentile`` reference (the winner's third fix); map mIoU: the best background threshold
of ``ThresholdLabelGenerator`` over ``--thresholds``, with maps divided by their max and by
their percentile (the same fix applied to pseudo labels).
"""
import argparse
import functools
import json
import os
import os.path as osp
import sys
from typing import Optional, Sequence

import numpy as np

from wsss_toolbox.engine.config import load_config
from wsss_toolbox.evaluation import metrics_in_percent, to_percent
from wsss_toolbox.evaluation.confusion import ConfusionMatrix, confusion_matrix
from wsss_toolbox.evaluation.lid import evaluate_peak_iou
from wsss_toolbox.evaluation.utils import load_ground_truth, parallel_sum
from wsss_toolbox.maps.io import load_maps, map_path
from wsss_toolbox.pseudo_labels import samples_from_dataset_cfg
from wsss_toolbox.pseudo_labels.generators import ThresholdLabelGenerator


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='stage-1 config whose dataset the maps belong to')
    parser.add_argument('--split', choices=('train', 'val'), default='val')
    parser.add_argument('--run', nargs=2, action='append', metavar=('NAME', 'MAP_DIR'),
                        required=True)
    parser.add_argument('--percentile', type=float, default=90.0)
    parser.add_argument('--thresholds', type=float, nargs='+',
                        default=[round(0.05 * i, 2) for i in range(1, 20)])
    parser.add_argument('--nproc', type=int, default=1)
    parser.add_argument('--out', default=None, help='JSON file for the numbers')
    parser.add_argument('--curves-dir', default=None,
                        help='also write one curve.json per run and reference here (the '
                        'input of tools/analysis/lid_curve_figure.py)')
    return parser.parse_args(argv)


def _label_counts(sample, map_dir, num_classes, thresholds, percentile):
    record = load_maps(map_path(map_dir, sample['img_id']), img_id=sample['img_id'],
                       tags=sample.get('gt_label'))
    gt = load_ground_truth(sample)
    counts = np.zeros((len(thresholds), num_classes, num_classes), np.int64)
    for index, threshold in enumerate(thresholds):
        generator = ThresholdLabelGenerator(bg_threshold=threshold, percentile=percentile)
        label = generator(record['maps'], record['classes'])
        counts[index] = confusion_matrix(label, gt, num_classes, 255)
    return counts


def best_miou(samples, map_dir, num_classes, thresholds, percentile, nproc):
    work = functools.partial(_label_counts, map_dir=map_dir, num_classes=num_classes,
                             thresholds=thresholds, percentile=percentile)
    totals, _ = parallel_sum(work, samples, nproc)
    curve = []
    for index in range(len(thresholds)):
        counter = ConfusionMatrix(num_classes, 255)
        counter.matrix = totals[index]
        curve.append(counter.metrics()['mIoU'])
    best = int(np.nanargmax(curve))
    return dict(miou=float(curve[best]), threshold=thresholds[best])


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    cfg = load_config(args.config)
    loader = 'train_dataloader' if args.split == 'train' else 'val_dataloader'
    samples, metainfo = samples_from_dataset_cfg(cfg[loader]['dataset'])
    num_classes = len(metainfo['classes']) + 1
    rows = []
    for name, map_dir in args.run:
        row = dict(run=name, map_dir=map_dir)
        for reference in ('max', 'percentile'):
            curve = evaluate_peak_iou(samples, map_dir, reference=reference,
                                      percentile=args.percentile, nproc=args.nproc)
            row[reference] = dict(peak_iou=curve['peak_iou'],
                                  peak_threshold=curve['peak_threshold'],
                                  curve=[float(v) for v in curve['curve']])
        row['miou_max'] = best_miou(samples, map_dir, num_classes, args.thresholds, None,
                                    args.nproc)
        row['miou_percentile'] = best_miou(samples, map_dir, num_classes, args.thresholds,
                                           args.percentile, args.nproc)
        rows.append(row)
    p = f'p{args.percentile:g}'
    print(f'| run | Peak-IoU @ t (max ref.) | Peak-IoU @ t ({p} ref.) | map mIoU (max) @ bg '
          f'| map mIoU ({p}) @ bg |')
    print('|---|---|---|---|---|')
    for row in rows:
        print(f"| {row['run']} | {100 * row['max']['peak_iou']:.2f} @ "
              f"{row['max']['peak_threshold']} | {100 * row['percentile']['peak_iou']:.2f} @ "
              f"{row['percentile']['peak_threshold']} | "
              f"{100 * row['miou_max']['miou']:.2f} @ {row['miou_max']['threshold']:.2f} | "
              f"{100 * row['miou_percentile']['miou']:.2f} @ "
              f"{row['miou_percentile']['threshold']:.2f} |")
    if args.curves_dir:
        os.makedirs(args.curves_dir, exist_ok=True)
        for index, row in enumerate(rows):
            for reference in ('max', 'percentile'):
                path = osp.join(args.curves_dir, f'{index}_{reference}.json')
                with open(path, 'w') as f:
                    json.dump(dict(metrics_in_percent(row[reference]), run=row['run'],
                                   reference=reference), f)
    if args.out:
        with open(args.out, 'w') as f:
            # Peak-IoU, its curves and the map mIoUs in percent, as every metric file
            rows_in_percent = [dict(
                row, max=metrics_in_percent(row['max']),
                percentile=metrics_in_percent(row['percentile']),
                miou_max=dict(row['miou_max'], miou=to_percent(row['miou_max']['miou'])),
                miou_percentile=dict(row['miou_percentile'],
                                     miou=to_percent(row['miou_percentile']['miou'])))
                for row in rows]
            json.dump(dict(samples=len(samples), percentile=args.percentile,
                           rows=rows_in_percent), f)
    return 0


if __name__ == '__main__':
    sys.exit(main())
