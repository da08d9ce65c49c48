"""Write the embedded synthetic WSSS benchmark (VOC layout) and print its difficulty statistics.

Example::

    .venv/bin/python tools/dataset_converters/make_synthetic_benchmark.py data/synthetic
    .venv/bin/python tools/dataset_converters/make_synthetic_benchmark.py data/tiny --num-train 64 \
        --num-val 16 --image-size 64 --option decoy_rate=2.5 --option part_size=0.3
    # 50 classes, one object class per image (LID 2020 track-3 protocol, configs/lid/)
    .venv/bin/python tools/dataset_converters/make_synthetic_benchmark.py data/synthetic_many \
        --variant many-classes --image-size 96

Design and statistics: docs/synthetic_benchmark.md.
"""
import argparse
import ast
import os.path as osp
import sys
import time

from wsss_toolbox.datasets.synthetic_benchmark import (
    SUMMARY_FILE,
    VARIANTS,
    format_summary,
    generate_synthetic_benchmark,
)


def parse_option(text: str) -> tuple:
    """``name=value`` with a Python literal value (``0.3``, ``(2, 6)``), else a string."""
    if '=' not in text:
        raise argparse.ArgumentTypeError(f'expected name=value, got {text!r}')
    name, value = text.split('=', 1)
    try:
        return name.strip(), ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name.strip(), value


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('out_dir', help='output folder (new, empty, or an earlier benchmark)')
    parser.add_argument('--num-train', type=int, default=1500)
    parser.add_argument('--num-val', type=int, default=300)
    parser.add_argument('--image-size', type=int, default=128)
    parser.add_argument('--num-classes', type=int, default=None,
                        help='foreground classes (default: 8, or the variant\'s)')
    parser.add_argument('--variant', choices=sorted(VARIANTS), default=None,
                        help='a named variant of the benchmark (its options apply unless '
                        'given); many-classes: 50 classes, one object class per image')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--workers', type=int, default=2, help='worker processes')
    parser.add_argument(
        '--option', action='append', type=parse_option, default=[], metavar='NAME=VALUE',
        help='any other SyntheticBenchmarkConfig field, e.g. decoy_rate=1.0 (repeatable)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.time()
    summary = generate_synthetic_benchmark(
        args.out_dir,
        num_train=args.num_train,
        num_val=args.num_val,
        image_size=args.image_size,
        num_classes=args.num_classes,
        seed=args.seed,
        variant=args.variant,
        num_workers=args.workers,
        show_progress=True,
        **dict(args.option))
    print(f'\nwrote {args.num_train} + {args.num_val} images to {args.out_dir} in '
          f'{time.time() - started:.1f} s; classes: {", ".join(summary["classes"])}')
    print(format_summary(summary))
    print(f'summary: {osp.join(args.out_dir, SUMMARY_FILE)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
