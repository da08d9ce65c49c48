"""Train a model from a config (stage 1 classifiers and stage 3 segmentors alike).

    .venv/bin/python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                                 [--cfg-options k=v ...] [--launcher {none,pytorch}]
    torchrun --nproc_per_node=N tools/train.py CONFIG --launcher pytorch
"""
import argparse
import logging
import os.path as osp

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import Runner

from wsss_toolbox.apis import add_common_args, load_cli_config, parse_with_local_rank
from wsss_toolbox.apis.cli import refuse_double_overrides
from wsss_toolbox.engine import finish_distributed, prepare_distributed
from wsss_toolbox.engine.checkpoint import latest_checkpoint_in
from wsss_toolbox.registry import RUNNERS
from wsss_toolbox.utils import register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train a wsss_toolbox / mmseg model',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume', nargs='?', const='auto', default=None,
        help='resume from the given checkpoint, or from the latest one in the work dir '
        'when no path is given')
    parser.add_argument('--amp', action='store_true', default=False,
                        help='enable automatic mixed precision training')
    add_common_args(parser)
    return parse_with_local_rank(parser)


def build_config(args: argparse.Namespace) -> Config:
    """Read the config and apply the command-line overrides, as mmseg's train.py does."""
    cfg = load_cli_config(args)
    if args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in the config.', logger='current',
                      level=logging.WARNING)
        else:
            if optim_wrapper != 'OptimWrapper':
                raise ValueError(f'--amp only works with OptimWrapper, but the config uses '
                                 f'{optim_wrapper}.')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'

    # `--resume CKPT` sets load_from: a `--cfg-options load_from=` beside it would be ignored
    refuse_double_overrides(args.cfg_options, {'load_from': (
        '--resume', None if args.resume in (None, 'auto') else args.resume)})
    if args.resume == 'auto':
        # the latest checkpoint *inside* the work dir: mmengine's last_checkpoint holds an
        # absolute path, which in a copied work dir names the original's checkpoint
        latest = latest_checkpoint_in(cfg.work_dir) if osp.isdir(cfg.work_dir) else None
        if latest is not None:
            cfg.resume, cfg.load_from = True, latest
        else:
            # nothing to resume: start as the config says (its load_from, if any, still
            # initialises the model rather than being dropped or resumed from)
            print_log(f'--resume: no checkpoint in {cfg.work_dir}; starting from the start'
                      + (f' (load_from={cfg.load_from})' if cfg.get('load_from') else ''),
                      logger='current')
            cfg.resume = False
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = build_config(args)
    prepare_distributed(cfg)
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    runner.train()
    finish_distributed()


if __name__ == '__main__':
    main()
