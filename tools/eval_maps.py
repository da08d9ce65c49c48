"""Evaluate localization-map files against ground-truth masks.

    .venv/bin/python tools/eval_maps.py MAP_DIR
        (--config CFG [--cfg-options k=v ...] | --img-dir DIR --seg-dir DIR [--ann-file F])
                              [--class-names ... | --num-classes N] [--thresholds 0 0.05 ...]
                              [--no-normalize] [--ratio 0.5] [--nproc N] [--out-json FILE]

Prints the background-threshold sweep (mIoU per threshold), the per-class table at the best
threshold, OAA-style recall/precision at 50% of the max and the LID Peak-IoU; writes all of
it as JSON beside MAP_DIR (``<MAP_DIR>_eval.json``) unless --out-json says otherwise. Tables
and JSON give every metric in percent with two decimals, as mmseg does (mIoU, IoU, Acc,
Precision, the recall / precision / noise and the IoU curve); thresholds are map scores.
"""
import argparse
from typing import Optional, Sequence

from mmengine.logging import print_log

from wsss_toolbox.evaluation import (
    DEFAULT_THRESHOLDS,
    dump_metrics_json,
    evaluate_maps,
    format_metrics_table,
    format_summary_table,
    format_table,
    format_value,
    map_precision_recall,
    maps_iou_curve,
    metrics_in_percent,
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

    report = metrics_in_percent(dict(map_dir=args.map_dir, threshold_sweep=sweep,
                                     precision_recall=precision_recall, lid_curve=lid))
    sweep_table = format_table(
        ['threshold', 'mIoU'],
        [[f'{threshold:.3f}', format_value(miou)] for threshold, miou in
         zip(sweep['thresholds'], report['threshold_sweep']['miou_curve'])],
        title='background-threshold sweep (%)')
    pr, curve = report['precision_recall'], report['lid_curve']
    summary_table = format_summary_table({
        f'recall @ {args.ratio:g} x max': pr['recall'],
        f'precision @ {args.ratio:g} x max': pr['precision'],
        'noise (1 - precision)': pr['noise'],
        'LID Peak-IoU': curve['peak_iou'],
        'LID Peak-Threshold (0..255)': curve['peak_threshold']}, title='maps (%)')
    print_log(f'\n{sweep_table}\nbest threshold {sweep["best_threshold"]:.3f} '
              f'({sweep["num_images"]} images):\n{format_metrics_table(sweep["best_metrics"])}'
              f'\n{summary_table}', logger='current')
    out_json = args.out_json or json_path_next_to(args.map_dir, '_eval.json')
    dump_metrics_json(report, out_json)
    print_log(f'metrics (percent) written to {out_json}', logger='current')
    for warning in sweep['warnings']:  # also logged; repeated last so it is not missed
        print(f'WARNING: {warning}')


if __name__ == '__main__':
    main()
