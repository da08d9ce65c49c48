"""Stage-2 throughput of IRN next to the DenseCRF: images/s of (1) threshold + DenseCRF labels,
(2) IRN seeds (two DenseCRFs), (3) boundary map + random walk (squaring of the dense
transition matrix, as the authors; and 2^8 sparse steps), one process each, on the first
``--num-images`` images of a finished CAM + IRN pipeline run; (4) the affinity network's
training images/s as its pipeline step recorded it (images x epochs / seconds).

    .venv/bin/python tools/analysis/benchmark_irn.py configs/pipelines/cam-irn_synthetic.py \
        --work-dir work_dirs/irn/cam-irn [--num-images 100] [--device cpu] \
        [--cfg-options data_root=data/synthetic_seenet] [--out FILE.json]
"""
import argparse
import json
import os
import os.path as osp
import shutil
import tempfile
import time

import torch
from mmengine.config import DictAction

from wsss_toolbox.methods.irn import refine_sample
from wsss_toolbox.pipeline import PipelineRunner, load_pipeline_config
from wsss_toolbox.pseudo_labels import generate_pseudo_labels
from wsss_toolbox.pseudo_labels.label_io import load_rgb_image
from wsss_toolbox.utils import register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Benchmark IRN (seeds, random walk, affinity training) against DenseCRF',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='the CAM + IRN pipeline config of the run')
    parser.add_argument('--work-dir', required=True, help='the finished pipeline run')
    parser.add_argument('--num-images', type=int, default=100)
    parser.add_argument('--maps', default='maps', help='map step')
    parser.add_argument('--walk', default='irn_labels', help='RandomWalkLabels step')
    parser.add_argument('--train', default='irn_train', help='TrainAffinityNet step')
    parser.add_argument('--device', default=None, help="'cpu' or 'cuda' (default: auto)")
    parser.add_argument('--out', help='also write the rows as JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='the pipeline overrides the run used (e.g. data_root=...)')
    return parser.parse_args()


def time_labels(samples, map_dir, generator, refiners) -> float:
    """images/s of one process writing labels into a scratch folder."""
    out_dir = tempfile.mkdtemp(prefix='benchmark_irn_')
    try:
        summary = generate_pseudo_labels(samples, map_dir, out_dir, generator, refiners,
                                         nproc=1, progress=False)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    return summary['images_per_second']


def time_walk(step, samples, map_dir, power: str, device) -> float:
    step.options['device'] = device
    model = step.build_model()
    images = [load_rgb_image(sample['img_path']) for sample in samples]
    options = {key: step.options[key] for key in
               ('beta', 'exp_times', 'radius', 'bg_threshold', 'flip')}
    refine_sample(model, samples[0], map_dir, images[0], power=power, **options)  # warm-up
    if str(next(model.parameters()).device).startswith('cuda'):
        torch.cuda.synchronize()
    start = time.perf_counter()
    with torch.no_grad():
        for sample, image in zip(samples, images):
            refine_sample(model, sample, map_dir, image, power=power, **options)
    if str(next(model.parameters()).device).startswith('cuda'):
        torch.cuda.synchronize()
    return len(samples) / (time.perf_counter() - start)


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=True)
    cfg = load_pipeline_config(args.config, args.cfg_options)
    runner = PipelineRunner(cfg, args.work_dir)
    maps = runner.step(args.maps)
    samples = maps.samples()[0][:args.num_images]
    rows = [
        ('threshold 0.3 + DenseCRF labels', time_labels(
            samples, maps.out_dir, dict(type='ThresholdLabelGenerator', bg_threshold=0.3),
            [dict(type='DenseCRFRefiner')])),
        ('IRN seeds (2 DenseCRFs)', time_labels(
            samples, maps.out_dir, dict(type='IRNSeedLabelGenerator'), [])),
    ]
    walk = runner.step(args.walk)
    for power in ('squaring', 'steps'):
        rows.append((f'boundary + random walk ({power})',
                     time_walk(walk, samples, maps.out_dir, power, args.device)))
    record = runner.result(args.train)
    if record and 'images_per_second' in record:
        rows.append(('affinity network training (step record)', record['images_per_second']))
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    print(f'\nIRN stage 2 on {len(samples)} images, device {device}, '
          f'{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}')
    print(f'{"part":<44}{"images/s":>10}')
    for name, speed in rows:
        print(f'{name:<44}{speed:>10.2f}')
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(dict(num_images=len(samples), device=device,
                           rows=[dict(part=name, images_per_second=speed)
                                 for name, speed in rows]), f, indent=2)


if __name__ == '__main__':
    main()
