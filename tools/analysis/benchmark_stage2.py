"""Stage-2b throughput: images/s of map files -> pseudo-label PNGs, with nproc 1 and 2,
with and without DenseCRF, in one run (plus the mIoU of each run's labels as a sanity check).

    .venv/bin/python tools/analysis/benchmark_stage2.py [--work-dir DIR] [--num-images 200]
        [--image-size 128] [--nprocs 1 2] [--benchmark-dir DIR] [--map-dir DIR]
        [--simple-data] [--generator saliency|threshold|harmonic] [--seed 0]

Data: ``--benchmark-dir`` = a VOC-layout folder (``JPEGImages``, ``SegmentationClass``,
optional ``Saliency``, ``ImageSets/Segmentation/<split>.txt``, e.g. the synthetic benchmark);
otherwise the synthetic benchmark is generated into ``<work-dir>/benchmark``
(``wsss_toolbox.datasets.synthetic_benchmark``; kept for a rerun with the same options), or,
with ``--simple-data``, simple shapes on noise. Maps: ``--map-dir``, or plausible maps made
from the masks (blurred class masks + smooth noise, divided by their max;
``_bench_common.plausible_maps``, shared with ``benchmark_map_dtype.py``).
"""
import argparse
import os
import os.path as osp
import sys
import time

import cv2
import mmcv
import numpy as np

import wsss_toolbox.methods.seenet  # noqa: F401  (registers HarmonicLabelGenerator)
from wsss_toolbox.evaluation import evaluate_labels
from wsss_toolbox.maps import map_path, save_maps
from wsss_toolbox.pseudo_labels import generate_pseudo_labels, load_label

# the shared set-up sits next to this script, which runpy.run_path and importlib load
# without adding this folder to sys.path
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _bench_common import (  # noqa: E402
    count_mask_classes,
    folder_samples,
    plausible_maps,
    synthetic_benchmark,
)

GENERATORS = dict(saliency=dict(type='SaliencyLabelGenerator'),
                  threshold=dict(type='ThresholdLabelGenerator', bg_threshold=0.3),
                  harmonic=dict(type='HarmonicLabelGenerator'))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Benchmark stage-2 pseudo-label generation',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--work-dir', default='work_dirs/benchmark_stage2')
    parser.add_argument('--num-images', type=int, default=200)
    parser.add_argument('--image-size', type=int, default=128)
    parser.add_argument('--nprocs', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--benchmark-dir', help='existing VOC-layout folder to use')
    parser.add_argument('--split', default='train', help='image set of --benchmark-dir')
    parser.add_argument('--map-dir', help='existing map files (default: made from the masks)')
    parser.add_argument('--simple-data', action='store_true',
                        help='draw simple shapes instead of the synthetic benchmark')
    parser.add_argument('--generator', choices=sorted(GENERATORS), default='saliency')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def write_simple_data(root: str, num_images: int, size: int, seed: int) -> None:
    """Shapes of 4 classes on noise, VOC layout, with blurred-mask saliency."""
    rng = np.random.default_rng(seed)
    colours = np.array([(220, 40, 40), (40, 200, 40), (40, 40, 220), (220, 200, 40)])
    yy, xx = np.mgrid[:size, :size]
    ids = [f'simple{index:05d}' for index in range(num_images)]
    for img_id in ids:
        image = rng.integers(0, 90, (size, size, 3)).astype(np.uint8)
        gt = np.zeros((size, size), np.uint8)
        for cls in rng.choice(4, size=rng.integers(1, 3), replace=False):
            cy, cx = rng.integers(size // 5, 4 * size // 5, 2)
            ry, rx = rng.integers(size // 10, size // 4, 2)
            region = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
            gt[region] = cls + 1
            image[region] = colours[cls]
        saliency = cv2.GaussianBlur((gt > 0).astype(np.float32), (0, 0), size / 40) * 255
        mmcv.imwrite(image[..., ::-1], osp.join(root, 'JPEGImages', f'{img_id}.jpg'))
        mmcv.imwrite(gt, osp.join(root, 'SegmentationClass', f'{img_id}.png'))
        mmcv.imwrite(saliency.astype(np.uint8), osp.join(root, 'Saliency', f'{img_id}.png'))
    os.makedirs(osp.join(root, 'ImageSets', 'Segmentation'), exist_ok=True)
    with open(osp.join(root, 'ImageSets', 'Segmentation', 'train.txt'), 'w') as f:
        f.write('\n'.join(ids) + '\n')


def prepare_data(args: argparse.Namespace) -> str:
    if args.benchmark_dir:
        return args.benchmark_dir
    root = osp.join(args.work_dir, 'benchmark')
    if args.simple_data:
        write_simple_data(root, args.num_images, args.image_size, args.seed)
        return root
    return synthetic_benchmark(root, args.num_images, args.image_size, args.seed)


def write_plausible_maps(samples: list, map_dir: str, seed: int) -> None:
    """One map file per sample: :func:`plausible_maps` of its mask."""
    rng = np.random.default_rng(seed)
    for sample in samples:
        classes, maps = plausible_maps(load_label(sample['seg_map_path']), rng)
        save_maps(map_path(map_dir, sample['img_id']), sample['img_id'], classes, maps)


def main() -> None:
    args = parse_args()
    root = prepare_data(args)
    samples = folder_samples(root, args.split, args.num_images)
    map_dir = args.map_dir
    if map_dir is None:
        map_dir = osp.join(args.work_dir, 'maps')
        start = time.perf_counter()
        write_plausible_maps(samples, map_dir, args.seed)
        print(f'wrote {len(samples)} map files in {time.perf_counter() - start:.1f}s')
    generator_name = args.generator
    if GENERATORS[generator_name]['type'] != 'ThresholdLabelGenerator' and \
            samples[0]['saliency_path'] is None:
        print(f'no saliency maps: using the threshold generator instead of {generator_name}')
        generator_name = 'threshold'
    num_classes = count_mask_classes(root, samples)

    rows = []
    for use_crf in (False, True):
        refiners = [dict(type='DenseCRFRefiner')] if use_crf else []
        for nproc in args.nprocs:
            out_dir = osp.join(args.work_dir, f'labels_{generator_name}_crf{int(use_crf)}'
                               f'_nproc{nproc}')
            summary = generate_pseudo_labels(samples, map_dir, out_dir,
                                             GENERATORS[generator_name], refiners, nproc=nproc,
                                             overwrite=True, progress=False)
            miou = evaluate_labels(samples, out_dir, num_classes)['metrics']['mIoU']
            rows.append((generator_name, 'yes' if use_crf else 'no', nproc,
                         summary['num_written'], summary['seconds'],
                         summary['images_per_second'], miou, summary['ignored_fraction']))
    height, width = load_label(samples[0]['seg_map_path']).shape
    print(f'\nstage 2b on {len(samples)} images of {height}x{width} ({os.cpu_count()} CPUs)')
    print(f'{"generator":>10} {"CRF":>4} {"nproc":>5} {"images":>6} {"seconds":>8} '
          f'{"img/s":>8} {"mIoU":>6} {"ignored":>8}')
    for name, crf, nproc, count, seconds, speed, miou, ignored in rows:
        print(f'{name:>10} {crf:>4} {nproc:>5} {count:>6} {seconds:>8.2f} {speed:>8.1f} '
              f'{100 * miou:>6.2f} {100 * ignored:>7.1f}%')


if __name__ == '__main__':
    main()
