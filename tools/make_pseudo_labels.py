"""Stage 2b: turn localization-map files into pseudo-label PNGs.

    .venv/bin/python tools/make_pseudo_labels.py CONFIG [--map-dir DIR] [--out-dir DIR] [--nproc N]
                                              [--overwrite] [--cfg-options k=v ...]
                                              [--launcher {none,pytorch}]

The config holds the image-label dataset whose items name the images and saliency maps (a
stage-1 config's ``train_dataloader.dataset``, or ``dataset``) and the recipe: its
``pseudo_labels = dict(generator=..., refiners=[...])`` entry (the stage-1 configs set one;
override with ``--cfg-options pseudo_labels.generator.bg_threshold=0.4``); v0.1.0's top-level
``generator`` / ``refiners`` are still read, with a deprecation warning. A recipe key set in
both places is an error (one would be ignored), as is any other key in ``pseudo_labels``.
``map_dir`` / ``label_dir`` / ``nproc`` are top-level keys; ``--map-dir`` / ``--out-dir`` /
``--nproc`` override them.
Existing PNGs are kept unless ``--overwrite``; the run can be resumed.

Prints a summary table (images written / skipped, ignored pixels in percent, time) and writes
it as JSON beside the label folder (``<label_dir>_summary.json``; ``ignored_fraction`` in
percent with two decimals, as the other tools' metrics).
"""
import argparse
import logging
import warnings
from typing import Any, Dict, List, Optional, Sequence

import torch.distributed as torch_dist
from mmengine.config import DictAction
from mmengine.dist import is_main_process
from mmengine.logging import print_log

from wsss_toolbox.apis.cli import refuse_double_overrides
from wsss_toolbox.engine.config import load_config
from wsss_toolbox.evaluation import dump_metrics_json, format_summary_table, metrics_in_percent
from wsss_toolbox.pseudo_labels import (
    dataset_cfg_from_config,
    generate_pseudo_labels,
    json_path_next_to,
    samples_from_dataset_cfg,
)
from wsss_toolbox.utils import register_all_modules

RECIPE_KEYS = ('generator', 'refiners')
_OVERRIDE_EXAMPLES = dict(generator='pseudo_labels.generator.bg_threshold=0.4',
                          refiners="pseudo_labels.refiners=[]")


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate pseudo labels from map files',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='config with dataset, map_dir, label_dir and the recipe '
                        '(pseudo_labels.generator/refiners, or top-level generator/refiners)')
    parser.add_argument('--map-dir', help='map folder; overrides the config\'s map_dir')
    parser.add_argument('--out-dir', help='output folder; overrides the config\'s label_dir')
    parser.add_argument('--nproc', type=int,
                        help='worker processes; overrides the config\'s nproc (1 when neither '
                        'sets it)')
    parser.add_argument('--overwrite', action='store_true',
                        help='regenerate labels that already exist')
    parser.add_argument('--dataset-key', help='dotted key of the dataset config')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value pairs')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                        help='pytorch: started by torchrun, rank r of W takes samples[r::W]')
    return parser.parse_args(argv)


def _plain(component_cfg) -> dict:
    """ConfigDict -> dict (cheap to send to worker processes)."""
    return component_cfg.to_dict() if hasattr(component_cfg, 'to_dict') else dict(component_cfg)


def _refiner_list(refiners) -> List[dict]:
    return [_plain(refiner) for refiner in refiners or []]


def pseudo_label_recipe(cfg, config_path: str) -> Dict[str, Any]:
    """``dict(generator=..., refiners=[...])`` from ``cfg.pseudo_labels`` or the top-level
    ``generator`` / ``refiners`` of the config.

    Raises:
        ValueError: a recipe key is set in both places (one of the two would be ignored), or
            ``pseudo_labels`` holds a key the recipe does not read.
        KeyError: no generator is set.
    """
    section = cfg.get('pseudo_labels')
    section = {} if section is None else section
    if not hasattr(section, 'keys'):
        raise ValueError(f'{config_path}: `pseudo_labels` must be a dict(generator=..., '
                         f'refiners=[...]), got {type(section).__name__}.')
    unknown = sorted(key for key in section.keys() if key not in RECIPE_KEYS + ('_delete_', ))
    if unknown:
        top_level = [key for key in unknown if key in ('map_dir', 'label_dir', 'nproc')]
        hint = (f' ({", ".join(top_level)}: a top-level key or its command-line option)'
                if top_level else '')
        raise ValueError(f'{config_path}: `pseudo_labels` has key(s) {unknown} that '
                         f'tools/make_pseudo_labels.py does not read; it takes only '
                         f'{list(RECIPE_KEYS)}{hint}.')
    recipe = {}
    for key in RECIPE_KEYS:
        nested, top = section.get(key), cfg.get(key)
        if nested is not None and top is not None:
            raise ValueError(
                f'{config_path}: both `pseudo_labels.{key}` and top-level `{key}` are set '
                f'(in the file or by --cfg-options) and one of them would be ignored; keep '
                f'one (to change a stage-1 config\'s recipe, override `pseudo_labels.{key}`, '
                f'e.g. --cfg-options {_OVERRIDE_EXAMPLES[key]}).')
        if nested is None and top is not None:
            message = (f'{config_path}: top-level `{key}` is deprecated; the recipe lives in '
                       f'`pseudo_labels = dict({key}=...)` since wsss_toolbox v0.2.0 (the '
                       'top-level spelling is removed in v0.3.0).')
            warnings.warn(message, DeprecationWarning, stacklevel=2)
            print_log(message, logger='current', level=logging.WARNING)
        recipe[key] = nested if nested is not None else top
    if not recipe['generator']:
        raise KeyError(f'{config_path} does not set pseudo_labels.generator (or generator).')
    return recipe


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    # every built-in method's generators and refiners (e.g. SeeNet's HarmonicLabelGenerator)
    register_all_modules(init_default_scope=False)
    refuse_double_overrides(args.cfg_options, dict(
        map_dir=('--map-dir', args.map_dir), label_dir=('--out-dir', args.out_dir),
        nproc=('--nproc', args.nproc)))
    cfg = load_config(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    # an option given on the command line overrides the config's key
    map_dir = args.map_dir or cfg.get('map_dir')
    out_dir = args.out_dir or cfg.get('label_dir')
    for value, name in ((map_dir, 'map_dir / --map-dir'), (out_dir, 'label_dir / --out-dir')):
        if not value:
            raise KeyError(f'{args.config} does not set {name}.')
    recipe = pseudo_label_recipe(cfg, args.config)
    if args.launcher == 'pytorch' and not torch_dist.is_initialized():
        # stage 2 is CPU work: gloo from torchrun's environment, with or without GPUs
        torch_dist.init_process_group(backend='gloo')

    samples, _ = samples_from_dataset_cfg(
        dataset_cfg_from_config(cfg, args.dataset_key, args.config))
    summary = generate_pseudo_labels(
        samples, map_dir, out_dir, generator=_plain(recipe['generator']),
        refiners=_refiner_list(recipe['refiners']),
        nproc=args.nproc if args.nproc is not None else cfg.get('nproc', 1),
        overwrite=args.overwrite)
    if is_main_process():
        report = metrics_in_percent(summary)
        out_json = json_path_next_to(out_dir, '_summary.json')
        dump_metrics_json(report, out_json)
        print_log('\n' + format_summary_table({
            'images': report['num_samples'], 'labels written': report['num_written'],
            'already there (kept)': report['num_skipped'],
            'ignored (255) pixels %': report['ignored_fraction'],
            'seconds': report['seconds'], 'images / second': report['images_per_second'],
            'processes (ranks)': report['world_size'], 'label folder': report['out_dir']},
            title='pseudo labels') + f'\nsummary written to {out_json}', logger='current')


if __name__ == '__main__':
    main()
