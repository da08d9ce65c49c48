"""Evaluate localization-map files against ground-truth masks.

    .venv/bin/python tools/eval_maps.py MAP_DIR
        (--config CFG [--cfg-options k=v ...] | --img-dir DIR --seg-dir DIR [--ann-file F])
                              [--class-names ... | --num-classes N] [--thresholds 0 0.05 ...]
                              [--no-normalize] [--ratio 0.5] [--nproc N] [--out-json FILE]

Prints the background-threshold sweep (mIoU per threshold), the per-class table at the best
threshold, OAA-style recall/precision at 50% of the max and the LID Peak-IoU; writes all of
it as JSON beside MAP_DIR (``<MAP_DIR>_eval.json``) unless --out-json says otherwise.
"""
import argparse
from typing import Optional, Sequence

from wsss_toolbox.evaluation import (
    DEFAULT_THRESHOLDS,
    dump_metrics_json,
    evaluate_maps,
    format_metrics_table,
    map_precision_recall,
    maps_iou_curve,
)
from wsss_toolbox.pseudo_labels import add_sample_source_args, json_path_next_to, samples_from_args


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Evaluate localization maps',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('map_dir', help='folder of <img_id>.npz map files')
    add_sample_source_args(parser)
    parser.add_argument('--thresholds', type=float, nargs='+', default=list(DEFAULT_THRESHOLDS),
                        help='background thresholds to sweep')
    parser.add_argument('--no-normalize', action='store_true',
                        help='do not divide each class map by its max before the sweep')
    parser.add_argument('--ratio', type=float, default=0.5,
                        help='binarisation ratio of the max for recall/precision')
    parser.add_argument('--nproc', type=int, default=1)
    parser.add_argument('--out-json', help='default: <map_dir>_eval.json')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    samples, class_names = samples_from_args(args)
    num_classes = len(class_names)
    sweep = evaluate_maps(samples, args.map_dir, num_classes, args.thresholds,
                          normalize=not args.no_normalize, class_names=class_names,
                          nproc=args.nproc, progress=True)
    precision_recall = map_precision_recall(samples, args.map_dir, num_classes, args.ratio,
                                            nproc=args.nproc)
    lid = maps_iou_curve(samples, args.map_dir, nproc=args.nproc)

    print('\nthreshold  mIoU')
    for threshold, miou in zip(sweep['thresholds'], sweep['miou_curve']):
        print(f'{threshold:9.3f}  {100 * miou:5.2f}')
    print(f'\nbest threshold {sweep["best_threshold"]:.3f} '
          f'({sweep["num_images"]} images):')
    print(format_metrics_table(sweep['best_metrics']))
    print(f'\nmaps binarised at {args.ratio} x max: recall '
          f'{100 * precision_recall["recall"]:.2f}  precision '
          f'{100 * precision_recall["precision"]:.2f}  noise (1 - precision) '
          f'{100 * precision_recall["noise"]:.2f}')
    print(f'LID IoU-threshold curve: Peak-IoU {100 * lid["peak_iou"]:.2f} at '
          f't={lid["peak_threshold"]}')
    out_json = args.out_json or json_path_next_to(args.map_dir, '_eval.json')
    dump_metrics_json(dict(map_dir=args.map_dir, threshold_sweep=sweep,
                           precision_recall=precision_recall, lid_curve=lid), out_json)
    print(f'metrics written to {out_json}')
    for warning in sweep['warnings']:  # also logged; repeated last so it is not missed
        print(f'WARNING: {warning}')


if __name__ == '__main__':
    main()
