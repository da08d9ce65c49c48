"""One table from several pipeline work dirs (their summary.json files).

    .venv/bin/python tools/analysis/collect_results.py work_dirs/compare/cam \
        work_dirs/compare/oaa ... [--out results.json]

Every metric (mIoU, recall, precision, ignored pixels) is in percent, as in summary.json's
rows; the JSON of ``--out`` rounds them to two decimals, as mmseg does.
"""
import argparse
import json
import os.path as osp

from wsss_toolbox.evaluation.formatting import PERCENT_DECIMALS

#: the columns in percent
PERCENT_KEYS = ('map_miou', 'recall', 'precision', 'label_miou', 'ignored', 'first_label_miou',
                'deeplab_miou')


def row_of(work_dir: str) -> dict:
    path = osp.join(work_dir, 'summary.json')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} does not exist: has the pipeline in {work_dir} finished?')
    with open(path) as f:
        summary = json.load(f)
    rows = summary['rows']

    def first(kind: str) -> dict:
        found = [row for row in rows if row['kind'] == kind]
        if not found:
            raise KeyError(f'{path} has no "{kind}" row: the pipeline lacks that step')
        return found[0]

    segmentor = first('segmentor')
    labels = [row for row in rows if row['kind'] == 'labels']
    used = next(row for row in labels if row['step'] == segmentor['labels'])
    # the summary rows are in percent already (the pipeline's Summarize step)
    return dict(
        method=osp.basename(work_dir.rstrip('/')),
        map_miou=first('maps')['mIoU'], best_threshold=first('maps')['best_threshold'],
        recall=first('maps_recall')['value'], precision=first('maps_precision')['value'],
        labels=used['step'], label_miou=used['mIoU'], ignored=used['ignored'],
        first_label_miou=labels[0]['mIoU'], deeplab_miou=segmentor['mIoU'])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('work_dirs', nargs='+')
    parser.add_argument('--out', help='also write the rows as JSON')
    args = parser.parse_args()
    rows = [row_of(work_dir) for work_dir in args.work_dirs]
    header = (f"{'method':<16}{'map mIoU':>9}{'(thr)':>7}{'recall':>8}{'prec.':>8}"
              f"{'labels':>24}{'label mIoU':>11}{'ignored':>9}{'DeepLab':>9}")
    print(header)
    print('-' * len(header))
    for r in rows:
        print(f"{r['method']:<16}{r['map_miou']:>9.2f}{r['best_threshold']:>7.2f}"
              f"{r['recall']:>8.2f}{r['precision']:>8.2f}{r['labels']:>24}"
              f"{r['label_miou']:>11.2f}{r['ignored']:>8.1f}%{r['deeplab_miou']:>9.2f}")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump([{key: round(value, PERCENT_DECIMALS)
                        if key in PERCENT_KEYS and value is not None else value
                        for key, value in row.items()} for row in rows], f, indent=2)


if __name__ == '__main__':
    main()
