"""Evaluate pseudo-label PNGs against ground-truth masks.

    .venv/bin/python tools/eval_labels.py LABEL_DIR (--config CFG | --img-dir DIR --seg-dir DIR
                                [--ann-file F]) [--class-names ... | --num-classes N]
                                [--nproc N] [--out-json FILE]

Prints the per-class table with ignored (255) pixels counted as misses (mmseg's convention),
the mIoU on the labelled pixels only and the ignored fraction; writes the JSON beside
LABEL_DIR (``<LABEL_DIR>_eval.json``) unless --out-json says otherwise. Tables and JSON give
every metric (mIoU, IoU, Acc, Precision, aAcc ..., ``ignored_fraction``) in percent with two
decimals, as mmseg does; ``confusion_matrix`` and ``unassigned`` are pixel counts.
"""
import argparse
from typing import Optional, Sequence

from mmengine.logging import print_log

from wsss_toolbox.evaluation import (
    dump_metrics_json,
    evaluate_labels,
    format_metrics_table,
    format_summary_table,
    metrics_in_percent,
)
from wsss_toolbox.pseudo_labels import add_sample_source_args, json_path_next_to, samples_from_args


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Evaluate pseudo labels',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('label_dir', help='folder of <img_id>.png pseudo labels')
    add_sample_source_args(parser)
    parser.add_argument('--nproc', type=int, default=1)
    parser.add_argument('--out-json', help='default: <label_dir>_eval.json')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    samples, class_names = samples_from_args(args)
    result = evaluate_labels(samples, args.label_dir, len(class_names), class_names,
                             nproc=args.nproc, progress=True)
    report = metrics_in_percent(dict(label_dir=args.label_dir, **result))
    labelled = report['metrics_labelled']
    summary_table = format_summary_table({
        'mIoU (labelled pixels only)': labelled['mIoU'],
        'aAcc (labelled pixels only)': labelled['aAcc'],
        'ignored (255) pixels': report['ignored_fraction']}, title='pseudo labels (%)')
    print_log(f'\n{result["num_images"]} images; ignored (255) pixels counted as misses:\n'
              f'{format_metrics_table(result["metrics"])}\n{summary_table}', logger='current')
    out_json = args.out_json or json_path_next_to(args.label_dir, '_eval.json')
    dump_metrics_json(report, out_json)
    print_log(f'metrics (percent) written to {out_json}', logger='current')


if __name__ == '__main__':
    main()
