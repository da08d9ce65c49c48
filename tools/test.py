"""Evaluate a trained checkpoint on the test (or val) split of a config.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--tta] [--out DIR] [--show-dir DIR]
                                           [--cfg-options k=v ...] [--launcher {none,pytorch}]
"""
import argparse
import os.path as osp

from mmengine.config import Config
from mmengine.runner import Runner

from wsss_toolbox.apis import add_common_args, load_cli_config, parse_with_local_rank
from wsss_toolbox.engine import finish_distributed, prepare_distributed
from wsss_toolbox.registry import RUNNERS
from wsss_toolbox.utils import register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dir to save the predicted masks (PNG) for offline use')
    parser.add_argument('--show-dir', help='dir to save painted predictions')
    parser.add_argument('--tta', action='store_true',
                        help='multi-scale + flip test (the config\'s tta_model/tta_pipeline)')
    add_common_args(parser)
    return parse_with_local_rank(parser)


def build_config(args: argparse.Namespace) -> Config:
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'Checkpoint file "{args.checkpoint}" does not exist.')
    cfg = load_cli_config(args)
    cfg.load_from = args.checkpoint
    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise KeyError(f'--tta needs `tta_model` and `tta_pipeline` in {args.config}.')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    if args.show_dir is not None:
        visualization_hook = cfg.default_hooks.get('visualization')
        if visualization_hook is None:
            raise KeyError('--show-dir needs a `visualization` entry in default_hooks.')
        visualization_hook['draw'] = True
        visualization_hook['show'] = False
        visualization_hook['test_out_dir'] = args.show_dir
    return cfg


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = build_config(args)
    prepare_distributed(cfg)
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    runner.test()
    finish_distributed()


if __name__ == '__main__':
    main()
