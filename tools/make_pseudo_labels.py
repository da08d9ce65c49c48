"""Stage 2b: turn localization-map files into pseudo-label PNGs.

    .venv/bin/python tools/make_pseudo_labels.py CONFIG [--map-dir DIR] [--out-dir DIR] [--nproc N]
                                              [--overwrite] [--cfg-options k=v ...]
                                              [--launcher {none,pytorch}]

The config holds the image-label dataset whose items name the images and saliency maps (a
stage-1 config's ``train_dataloader.dataset``, or ``dataset``) and the recipe: its
``pseudo_labels = dict(generator=..., refiners=[...])`` entry (the stage-1 configs set one;
override with ``--cfg-options pseudo_labels.generator.bg_threshold=0.4``), or top-level
``generator`` / ``refiners``; ``map_dir`` / ``label_dir`` / ``nproc`` may be set there too.
Existing PNGs are kept unless ``--overwrite``; the run can be resumed.
"""
import argparse
import json

import torch.distributed as torch_dist
from mmengine.config import DictAction
from mmengine.dist import is_main_process

from wsss_toolbox.engine.config import load_config
from wsss_toolbox.evaluation import dump_metrics_json
from wsss_toolbox.pseudo_labels import (
    dataset_cfg_from_config,
    generate_pseudo_labels,
    json_path_next_to,
    samples_from_dataset_cfg,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate pseudo labels from map files',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='config with dataset, map_dir, label_dir, generator')
    parser.add_argument('--map-dir', help='override cfg.map_dir')
    parser.add_argument('--out-dir', help='override cfg.label_dir (output folder)')
    parser.add_argument('--nproc', type=int, help='worker processes (default cfg.nproc or 1)')
    parser.add_argument('--overwrite', action='store_true',
                        help='regenerate labels that already exist')
    parser.add_argument('--dataset-key', help='dotted key of the dataset config')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value pairs')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                        help='pytorch: started by torchrun, rank r of W takes samples[r::W]')
    return parser.parse_args()


def _plain(component_cfg) -> dict:
    """ConfigDict -> dict (cheap to send to worker processes)."""
    return component_cfg.to_dict() if hasattr(component_cfg, 'to_dict') else dict(component_cfg)


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    map_dir = args.map_dir or cfg.get('map_dir')
    out_dir = args.out_dir or cfg.get('label_dir')
    recipe = cfg.get('pseudo_labels') or cfg
    for value, name in ((map_dir, 'map_dir / --map-dir'), (out_dir, 'label_dir / --out-dir'),
                        (recipe.get('generator'), 'pseudo_labels.generator (or generator)')):
        if not value:
            raise KeyError(f'{args.config} does not set {name}.')
    if args.launcher == 'pytorch' and not torch_dist.is_initialized():
        # stage 2 is CPU work: gloo from torchrun's environment, with or without GPUs
        torch_dist.init_process_group(backend='gloo')

    samples, _ = samples_from_dataset_cfg(
        dataset_cfg_from_config(cfg, args.dataset_key, args.config))
    summary = generate_pseudo_labels(
        samples, map_dir, out_dir, generator=_plain(recipe['generator']),
        refiners=[_plain(refiner) for refiner in recipe.get('refiners', None) or []],
        nproc=args.nproc or cfg.get('nproc', 1), overwrite=args.overwrite)
    if is_main_process():
        print(json.dumps(summary, indent=2))
        dump_metrics_json(summary, json_path_next_to(out_dir, '_summary.json'))


if __name__ == '__main__':
    main()
