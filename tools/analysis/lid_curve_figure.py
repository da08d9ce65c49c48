"""The LID 2020 track-3 IoU-threshold curve(s): IoU(t) for t = 0..255 with Peak-IoU and
Peak-Threshold marked, one line per ``curve.json`` (written by the ``EvaluatePeakIoU``
pipeline step, or by ``tools/analysis/lid_map_comparison.py --curves-dir`` from map files).

    .venv/bin/python tools/analysis/lid_curve_figure.py \
        work_dirs/wsol/peak_iou/curve.json work_dirs/wsol/peak_iou_percentile/curve.json \
        --labels "max reference" "p90 reference" --out docs/figures/lid_iou_curve.png
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence

import matplotlib

# Agg draws to files without a display; the backend must be chosen before pyplot is imported
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('curves', nargs='+', help='curve.json files')
    parser.add_argument('--labels', nargs='+', default=None,
                        help='one legend label per curve (default: the folder names)')
    parser.add_argument('--title', default='LID 2020 track 3: IoU-threshold curve')
    parser.add_argument('--out', default='docs/figures/lid_iou_curve.png')
    return parser.parse_args(argv)


def load_curve(path: str) -> dict:
    with open(path) as f:
        curve = json.load(f)
    for key in ('curve', 'peak_iou', 'peak_threshold'):
        if key not in curve:
            raise KeyError(f'{path}: no "{key}"; expected the curve.json of an '
                           'EvaluatePeakIoU step')
    if len(curve['curve']) != 256:
        raise ValueError(f'{path}: the curve has {len(curve["curve"])} points, not 256')
    return curve


def draw(curves: List[dict], labels: List[str], title: str, out: str) -> str:
    figure, axis = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for curve, label in zip(curves, labels):
        line, = axis.plot(range(256), curve['curve'],  # curve.json holds percent
                          label=f'{label}: Peak-IoU {curve["peak_iou"]:.2f} '
                          f'@ {curve["peak_threshold"]}')
        axis.plot([curve['peak_threshold']], [curve['peak_iou']], 'o',
                  color=line.get_color())
    axis.set_xlim(0, 255)
    top = max(curve['peak_iou'] for curve in curves)
    axis.set_ylim(0, min(100, 10 * (int(top) // 10) + 20))
    axis.set_xlabel('threshold t (map scaled to 0..255 per image)')
    axis.set_ylabel('IoU(t) %')
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    figure.savefig(out)
    plt.close(figure)
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    labels = args.labels or [osp.basename(osp.dirname(osp.abspath(p))) for p in args.curves]
    if len(labels) != len(args.curves):
        raise SystemExit(f'{len(labels)} labels for {len(args.curves)} curves')
    curves = [load_curve(path) for path in args.curves]
    print(f'figure: {draw(curves, labels, args.title, args.out)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
