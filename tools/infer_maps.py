"""Stage 2a on its own: write the localization maps of a trained classifier.

    .venv/bin/python tools/infer_maps.py CONFIG CHECKPOINT --out-dir DIR [--split train|val]
        [--scales 1.0 0.5 1.5] [--no-flip] [--fusion mean|max]
        [--aggregation image_grid|feature_grid] [--overwrite]
        [--partners PARTNERS.json | --num-partners N [--rounds R] [--partner-seed S]]
        [--stride 4] [--map-dtype float16|uint8] [--partial-load]
    torchrun --nproc_per_node=N tools/infer_maps.py ... --launcher pytorch   # ranks share images

The defaults come from the config's ``map_inference`` dict (the keyword arguments of
:func:`wsss_toolbox.maps.inference.infer_maps`); the options override them. A key there that
this tool would not use (``split``: give ``--split``; ``overwrite``: give ``--overwrite``; a
misspelt option) is an error rather than ignored. The checkpoint
must fit the config's model exactly (an error names the file and the differing weights)
unless ``--partial-load`` is given.

Prints a summary table (maps written / already there / empty, size, time) and writes it with
the options that made the maps as JSON beside the map folder (``<out_dir>_summary.json``);
counts are summed over the ranks.
"""
import argparse
import copy
import inspect
import time
from typing import Any, Dict, List, Optional, Sequence

import torch
from mmengine.config import DictAction
from mmengine.dist import all_gather_object, init_dist, is_main_process
from mmengine.logging import print_log
from mmengine.registry import init_default_scope

from wsss_toolbox.apis.cli import refuse_double_overrides
from wsss_toolbox.engine.checkpoint import load_model_checkpoint
from wsss_toolbox.engine.config import load_config
from wsss_toolbox.evaluation import dump_metrics_json, format_summary_table
from wsss_toolbox.maps.inference import AGGREGATIONS, FUSIONS, infer_maps
from wsss_toolbox.maps.io import MAP_DTYPES
from wsss_toolbox.pseudo_labels import json_path_next_to, samples_from_dataset_cfg
from wsss_toolbox.registry import MODELS
from wsss_toolbox.utils import register_all_modules

# map_inference keys that have a command-line option instead (what to use there)
_COMMAND_LINE_ONLY = dict(split='--split', overwrite='--overwrite', out_dir='--out-dir',
                          thresholds='tools/eval_maps.py --thresholds')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Infer localization maps (stage 2a). The options override the config's "
        'map_inference keys; an option together with --cfg-options map_inference.<its key> is '
        'an error.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='stage-1 config')
    parser.add_argument('checkpoint', help='stage-1 checkpoint')
    parser.add_argument('--out-dir', required=True, help='folder for the <img_id>.npz files')
    parser.add_argument('--split', choices=['train', 'val'], default='train',
                        help="the images of the config's train_dataloader or val_dataloader")
    parser.add_argument('--scales', type=float, nargs='+', help='image scale factors')
    parser.add_argument('--no-flip', action='store_true', help='no horizontal-flip TTA')
    parser.add_argument('--fusion', choices=list(FUSIONS), help='how TTA maps are fused')
    parser.add_argument('--aggregation', choices=list(AGGREGATIONS),
                        help="image_grid: views resized to the image, then flipped back and "
                        "fused; feature_grid: IRN/RPNet's make_cam (mirror flipped back and "
                        'added on the feature grid, each scale resized once)')
    parser.add_argument('--partners', help='JSON file: img_id -> partner ids (cross-image '
                        'methods; one list, or one list per round)')
    parser.add_argument('--num-partners', type=int,
                        help='draw this many partners sharing a class with each image')
    parser.add_argument('--rounds', type=int, help='groups with drawn partners per image')
    parser.add_argument('--partner-seed', type=int, help='seed of the drawn partners')
    parser.add_argument('--stride', type=int,
                        help='also write strided maps at this stride (IRN: 4)')
    parser.add_argument('--map-dtype', choices=list(MAP_DTYPES),
                        help='how the map files store the maps (default float16; uint8: '
                        '8-bit, about half the size)')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision (bfloat16 on the CPU, float16 on a GPU)')
    parser.add_argument('--channels-last', action='store_true',
                        help='convolutions in the channels-last memory format (pays with --amp '
                        'on the CPU)')
    parser.add_argument('--overwrite', action='store_true', help='recompute existing files')
    parser.add_argument('--partial-load', action='store_true',
                        help='load only the checkpoint weights that fit the model (the others '
                        'keep their initial values) instead of stopping on a mismatch')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, e.g. map_inference.scales=[1.0]')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none')
    return parser.parse_args(argv)


def config_inference_options(cfg, config_path: str) -> Dict[str, Any]:
    """The config's ``map_inference`` dict, checked: every key must be an option of
    :func:`infer_maps` that the tool does not set itself.

    Raises:
        ValueError: a key that would be ignored or collide with a command-line option.
    """
    options = dict(cfg.get('map_inference') or {})
    accepted = set(inspect.signature(infer_maps).parameters) - {
        'model', 'samples', 'out_dir', 'overwrite'}
    for key in sorted(options):
        if key in _COMMAND_LINE_ONLY:
            raise ValueError(f'{config_path}: `map_inference.{key}` is not read by '
                             f'tools/infer_maps.py; use {_COMMAND_LINE_ONLY[key]} instead '
                             f'and remove the key.')
        if key not in accepted:
            raise ValueError(f'{config_path}: `map_inference.{key}` is not an option of map '
                             f'inference (options: {sorted(accepted)}).')
    return options


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    flags = {f'map_inference.{key}': ('--' + key.replace('_', '-'), getattr(args, key))
             for key in ('scales', 'fusion', 'aggregation', 'partners', 'num_partners',
                         'rounds', 'partner_seed', 'stride', 'amp', 'channels_last',
                         'map_dtype')}
    flags['map_inference.flip'] = ('--no-flip', args.no_flip)
    refuse_double_overrides(args.cfg_options, flags)
    register_all_modules(init_default_scope=False)
    cfg = load_config(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    # command-line options override the config's map_inference keys
    options = config_inference_options(cfg, args.config)
    init_default_scope(cfg.get('default_scope', 'wsss_toolbox'))
    if args.launcher == 'pytorch':
        init_dist('pytorch', backend='nccl' if torch.cuda.is_available() else 'gloo')
    if args.scales:
        options['scales'] = args.scales
    if args.no_flip:
        options['flip'] = False
    if args.amp:
        options['amp'] = True
    if args.channels_last:
        options['channels_last'] = True
    for key in ('fusion', 'aggregation', 'partners', 'num_partners', 'rounds', 'partner_seed',
                'stride', 'map_dtype'):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    loader = 'train_dataloader' if args.split == 'train' else 'val_dataloader'
    samples, _ = samples_from_dataset_cfg(copy.deepcopy(cfg[loader]['dataset']))
    model = MODELS.build(cfg.model)
    load_model_checkpoint(model, args.checkpoint, strict=not args.partial_load,
                          what=f'the model of {args.config}')
    start = time.perf_counter()
    counts = infer_maps(model, samples, args.out_dir, overwrite=args.overwrite, **options)
    seconds = time.perf_counter() - start
    summary = summarize_ranks(all_gather_object(dict(counts, seconds=seconds)))
    summary.update(config=args.config, checkpoint=args.checkpoint, split=args.split,
                   out_dir=args.out_dir, overwrite=args.overwrite,
                   partial_load=args.partial_load, options=options)
    if is_main_process():
        out_json = json_path_next_to(args.out_dir, '_summary.json')
        dump_metrics_json(summary, out_json)
        print_log('\n' + format_summary_table({
            'images': len(samples), 'maps written': summary['written'],
            'already there (kept)': summary['skipped'],
            'empty maps (written)': summary['empty'],
            'kB per image': summary['bytes_per_image'] / 1e3,
            'seconds': summary['seconds'], 'images / second': summary['images_per_second'],
            'processes (ranks)': summary['world_size'], 'map folder': args.out_dir},
            title='localization maps') + f'\nsummary written to {out_json}',
            logger='current')
    for warning in counts['warnings']:  # also logged; repeated last so it is not missed
        print(f'WARNING: {warning}')


def summarize_ranks(per_rank: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The counts of :func:`infer_maps` of every rank (each with its ``seconds``) as one:
    ``written`` / ``skipped`` / ``empty`` summed, ``bytes_per_image`` the mean over all map
    files, ``seconds`` of the slowest rank, ``images_per_second`` (written maps),
    ``world_size`` and every rank's ``warnings``."""
    summary = {key: sum(int(part[key]) for part in per_rank)
               for key in ('written', 'skipped', 'empty')}
    files = summary['written'] + summary['skipped']
    summary['bytes_per_image'] = (sum(part['bytes_per_image'] *
                                      (part['written'] + part['skipped']) for part in per_rank)
                                  / files if files else 0.0)
    summary['seconds'] = max(part['seconds'] for part in per_rank)
    summary['images_per_second'] = (summary['written'] / summary['seconds']
                                    if summary['seconds'] > 0 else 0.0)
    summary.update(world_size=len(per_rank),
                   warnings=[warning for part in per_rank for warning in part['warnings']])
    return summary


if __name__ == '__main__':
    main()
