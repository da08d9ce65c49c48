"""Stage 2a on its own: write the localization maps of a trained classifier.

    .venv/bin/python tools/infer_maps.py CONFIG CHECKPOINT --out-dir DIR [--split train|val]
        [--scales 1.0 0.5 1.5] [--no-flip] [--fusion mean|max]
        [--aggregation image_grid|feature_grid] [--overwrite]
        [--partners PARTNERS.json | --num-partners N [--rounds R] [--partner-seed S]]
        [--stride 4] [--partial-load]
    torchrun --nproc_per_node=N tools/infer_maps.py ... --launcher pytorch   # ranks share images

The defaults come from the config's ``map_inference`` dict (the keyword arguments of
:func:`wsss_toolbox.maps.inference.infer_maps`); the options override them. The checkpoint
must fit the config's model exactly (an error names the file and the differing weights)
unless ``--partial-load`` is given.
"""
import argparse
import copy

import torch
from mmengine.config import DictAction
from mmengine.dist import init_dist
from mmengine.registry import init_default_scope

from wsss_toolbox.engine.checkpoint import load_model_checkpoint
from wsss_toolbox.engine.config import load_config
from wsss_toolbox.maps.inference import AGGREGATIONS, FUSIONS, infer_maps
from wsss_toolbox.pseudo_labels import samples_from_dataset_cfg
from wsss_toolbox.registry import MODELS
from wsss_toolbox.utils import register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Infer localization maps (stage 2a)',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='stage-1 config')
    parser.add_argument('checkpoint', help='stage-1 checkpoint')
    parser.add_argument('--out-dir', required=True, help='folder for the <img_id>.npz files')
    parser.add_argument('--split', choices=['train', 'val'], default='train')
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
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision (bfloat16 on the CPU, float16 on a GPU)')
    parser.add_argument('--channels-last', action='store_true',
                        help='convolutions in the channels-last memory format (pays with --amp '
                        'on the CPU)')
    parser.add_argument('--overwrite', action='store_true', help='recompute existing files')
    parser.add_argument('--partial-load', action='store_true',
                        help='load only the checkpoint weights that fit the model (the others '
                        'keep their initial values) instead of stopping on a mismatch')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = load_config(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'wsss_toolbox'))
    if args.launcher == 'pytorch':
        init_dist('pytorch', backend='nccl' if torch.cuda.is_available() else 'gloo')
    options = dict(cfg.get('map_inference', {}))
    options.pop('split', None)
    options.pop('thresholds', None)
    if args.scales:
        options['scales'] = args.scales
    if args.no_flip:
        options['flip'] = False
    if args.amp:
        options['amp'] = True
    if args.channels_last:
        options['channels_last'] = True
    for key in ('fusion', 'aggregation', 'partners', 'num_partners', 'rounds', 'partner_seed',
                'stride'):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    loader = 'train_dataloader' if args.split == 'train' else 'val_dataloader'
    samples, _ = samples_from_dataset_cfg(copy.deepcopy(cfg[loader]['dataset']))
    model = MODELS.build(cfg.model)
    load_model_checkpoint(model, args.checkpoint, strict=not args.partial_load,
                          what=f'the model of {args.config}')
    counts = infer_maps(model, samples, args.out_dir, overwrite=args.overwrite, **options)
    print(f"maps written: {counts['written']}, already there: {counts['skipped']}")


if __name__ == '__main__':
    main()
