"""The cost of the pipeline's file fingerprints at VOC size (``docs/benchmarks.md``).

Writes ``--num-images`` (default 10,582: VOC's train_aug) tiny image and mask files in a
temporary folder (their size does not matter: one ``os.stat`` each) and times, as medians
over ``--repeats``:

* the stat table + digest of the images alone;
* a training step's view of its training set: image + mask of every image and every
  image's record (labels) as a hashed value (:meth:`PipelineRunner.dataset_files`);
* a per-image step's view (:func:`~wsss_toolbox.pipeline.input_state.read_step_files`): one
  stat table and signature per image, plus writing / reading its ``.files.json``.

    .venv/bin/python tools/analysis/benchmark_fingerprint.py [--num-images 10582]
        [--repeats 5] [--root /tmp/fingerprint_bench]
"""
import argparse
import json
import os
import os.path as osp
import shutil
import statistics
import tempfile
import time

from wsss_toolbox.pipeline.file_digest import FileNamer, InputFiles, digest_table, stat_files
from wsss_toolbox.pipeline.input_state import read_step_files


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Time the pipeline\'s file fingerprints',
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--num-images', type=int, default=10582)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--root', help='folder for the files (default: a new temporary one, '
                        'removed at the end)')
    return parser.parse_args()


def write_files(root: str, num_images: int) -> list:
    """``num_images`` records with a 1 kB image and a 100 B mask each."""
    records = []
    for folder in ('JPEGImages', 'SegmentationClass'):
        os.makedirs(osp.join(root, folder), exist_ok=True)
    for index in range(num_images):
        img_id = f'{2007 + index // 5000}_{index:06d}'
        img = osp.join(root, 'JPEGImages', f'{img_id}.jpg')
        mask = osp.join(root, 'SegmentationClass', f'{img_id}.png')
        with open(img, 'wb') as f:
            f.write(b'\xff' * 1000)
        with open(mask, 'wb') as f:
            f.write(b'\x00' * 100)
        gt_label = [float(k == index % 20) for k in range(20)]
        records.append(dict(img_id=img_id, img_path=img, seg_map_path=mask,
                            gt_label=gt_label, sample_idx=index))
    return records


class _PerImageStep:
    """The part of a per-image step that ``read_step_files`` asks (an InferMaps-like step:
    each output made from its image)."""
    per_image_outputs = True

    def __init__(self, records):
        self.records = records

    def input_files(self):
        return InputFiles()

    def samples(self):
        return self.records, []

    def image_inputs(self, sample):
        return InputFiles(required=[sample['img_path']])

    def images_depend_on_each_other(self):
        return False


def median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    args = parse_args()
    root = args.root or tempfile.mkdtemp(prefix='fingerprint_bench_')
    try:
        start = time.perf_counter()
        records = write_files(root, args.num_images)
        print(f'wrote {2 * len(records):,} files in {root} '
              f'({time.perf_counter() - start:.1f} s)')
        name = FileNamer([('', root)])
        images = InputFiles(required=[r['img_path'] for r in records])
        training = InputFiles.of_records(records)
        step = _PerImageStep(records)
        files_json = osp.join(root, 'step.files.json')

        def per_image_step():
            state = read_step_files(step, name)
            with open(files_json, 'w') as f:
                json.dump(state.to_json(), f)
            with open(files_json) as f:
                json.load(f)

        rows = [
            (f'{len(records):,} images: stat table + digest',
             median_seconds(lambda: digest_table(stat_files(images, name)), args.repeats)),
            (f'training set: {2 * len(records):,} files + {len(records):,} records',
             median_seconds(lambda: digest_table(stat_files(training, name)), args.repeats)),
            (f'per-image step: {len(records):,} signatures + .files.json',
             median_seconds(per_image_step, args.repeats)),
        ]
        width = max(len(row[0]) for row in rows)
        print(f'{"what":<{width}}  seconds (median of {args.repeats})')
        for label, seconds in rows:
            print(f'{label:<{width}}  {seconds:.3f}')
        print(f'.files.json of the per-image step: {os.path.getsize(files_json) / 1e6:.2f} MB')
    finally:
        if not args.root:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    main()
