"""The whole WSSS job in one command: the steps of a pipeline config (train a classifier,
infer maps, make pseudo labels, train and test DeepLab ...) run in order, each skipped when
its recorded fingerprint (configuration, inputs, toolbox version) is unchanged.

    .venv/bin/python tools/pipeline.py configs/pipelines/cam_synthetic.py [--work-dir DIR]
        [--cfg-options key=value ...] [--list] [--force STEP ...] [--until STEP]
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

from mmengine.config import DictAction
from mmengine.logging import MMLogger

from wsss_toolbox.apis.cli import ConflictingOptionsError, refuse_double_overrides
from wsss_toolbox.engine.config import ConfigSyntaxError
from wsss_toolbox.pipeline import (
    PipelineConfigError,
    PipelineRunner,
    WorkDirLockedError,
    load_pipeline_config,
)
from wsss_toolbox.utils import register_all_modules


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Run the steps of a WSSS pipeline config',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='pipeline config (configs/pipelines/*.py)')
    parser.add_argument('--work-dir', help='where every step writes (overrides the config\'s '
                        '`work_dir`; without either, work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override pipeline settings, e.g. pseudo_labels.nproc=2 '
                        'stage1.cfg_options.train_cfg.max_epochs=2')
    parser.add_argument('--list', action='store_true',
                        help='show the steps and whether each would run, then exit')
    parser.add_argument('--force', nargs='+', default=[], metavar='STEP',
                        help='rerun these steps (and so every step after them that reads them)')
    parser.add_argument('--until', metavar='STEP', help='stop after this step')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    register_all_modules(init_default_scope=True)
    try:
        refuse_double_overrides(args.cfg_options, dict(work_dir=('--work-dir', args.work_dir)))
        cfg = load_pipeline_config(args.config, args.cfg_options)
        work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
            'work_dirs', osp.splitext(osp.basename(args.config))[0])
        MMLogger.get_instance('wsss_pipeline', log_level='INFO')
        runner = PipelineRunner(cfg, work_dir)
        # unknown step names are the same error with --list as without (`run` checks them)
        for name in list(args.force) + ([args.until] if args.until else []):
            runner.step(name)
        if args.list:
            print(runner.format_plan(runner.plan(force=args.force)))
            return 0
        runner.run(force=args.force, until=args.until)
    except (PipelineConfigError, WorkDirLockedError, ConfigSyntaxError,
            ConflictingOptionsError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
