"""Several pipeline runs (methods) side by side in one self-contained HTML page: their summary
rows, their per-class IoU, and the images they all have pseudo labels of (image | ground
truth | each run's labels and segmentor prediction).

    .venv/bin/python tools/analysis/compare_runs.py work_dirs/compare/cam \
        work_dirs/compare/oaa --names CAM OAA --out compare.html

The images and classes are those of the first run's maps; each run shows the labels its
segmentor trained on (else its last label step). Open the page in any browser: images are
inlined, there is no script and nothing is fetched.
"""
import argparse
import sys
from typing import Optional, Sequence

from wsss_toolbox.visualization import write_comparison_report


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('work_dirs', nargs='+', help='work dirs of tools/pipeline.py runs')
    parser.add_argument('--names', nargs='+', default=None,
                        help='one name per run (default: the work dir names)')
    parser.add_argument('--out', default='compare.html', help='the HTML file to write')
    parser.add_argument('--num-images', type=int, default=24, help='images shown')
    parser.add_argument('--per-page', type=int, default=12, help='images per page')
    parser.add_argument('--no-predict', action='store_true',
                        help="leave out the segmentors' predictions (no model is run)")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.names and len(args.names) != len(args.work_dirs):
        raise SystemExit(f'{len(args.names)} names for {len(args.work_dirs)} work dirs')
    path = write_comparison_report(args.work_dirs, args.out, names=args.names,
                                   num_images=args.num_images, per_page=args.per_page,
                                   predict=not args.no_predict)
    print(f'comparison: {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
