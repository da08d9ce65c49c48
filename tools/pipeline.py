"""The whole WSSS job in one command: the steps of a pipeline config (train a classifier,
infer maps, make pseudo labels, train and test DeepLab ...) run in order, each skipped when
its recorded fingerprint (configuration, inputs, toolbox version) is unchanged.

    .venv/bin/python tools/pipeline.py configs/pipelines/cam_synthetic.py [--work-dir DIR]
        [--cfg-options key=value ...] [--list] [--force STEP ...] [--until STEP] [--verbose]

The terminal shows one line per step and the result table; what each step writes goes to
``<work_dir>/logs/<step>.log`` (``--verbose``: everything on the terminal).
"""
import argparse
import gc
import os.path as osp
import sys
from typing import Dict, Optional, Sequence

from mmengine.config import DictAction
from mmengine.logging import MMLogger

from wsss_toolbox.apis.cli import ConflictingOptionsError, refuse_double_overrides
from wsss_toolbox.engine.config import ConfigSyntaxError
from wsss_toolbox.evaluation.lid import format_parameter_rule
from wsss_toolbox.pipeline import (
    PipelineConfigError,
    PipelineRunner,
    Summarize,
    WorkDirLockedError,
    load_pipeline_config,
)
from wsss_toolbox.pipeline.console import LOG_DIR
from wsss_toolbox.pipeline.summary_step import format_table, format_warnings
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
    parser.add_argument('--verbose', action='store_true',
                        help='show everything the steps write (mmengine\'s environment and '
                        'config, training logs, progress bars) instead of one line per step '
                        '(their logs: <work-dir>/logs/<step>.log)')
    return parser.parse_args(argv)


def print_summaries(runner: PipelineRunner, results: Dict[str, dict]) -> None:
    """The result table of each ``Summarize`` step that ran or is up to date (quiet runs:
    the step printed it into its log)."""
    for name, result in results.items():
        if not isinstance(runner.step(name), Summarize):
            continue
        print('\n' + format_table(result['rows']))
        if result.get('warnings'):
            print(format_warnings(result['warnings']))
        parameters = result.get('inference_model')
        if parameters is not None:
            print(format_parameter_rule(
                parameters, f'inference model (step "{parameters["step"]}")'))
        print(f'summary: {runner.path("summary.json")}; step logs: {runner.path(LOG_DIR)}')


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    # mmengine's datasets run gc.collect() on every build (--list builds each stage's
    # datasets to fingerprint their files); with the imported modules' objects (torch,
    # mmseg ...) frozen it scans only the new ones: about half of --list's time here
    gc.freeze()
    try:
        return run(args)
    finally:
        gc.unfreeze()


def run(args: argparse.Namespace) -> int:
    register_all_modules(init_default_scope=True)
    try:
        refuse_double_overrides(args.cfg_options, dict(work_dir=('--work-dir', args.work_dir)))
        cfg = load_pipeline_config(args.config, args.cfg_options)
        work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
            'work_dirs', osp.splitext(osp.basename(args.config))[0])
        MMLogger.get_instance('wsss_pipeline', log_level='INFO')
        runner = PipelineRunner(cfg, work_dir, verbose=args.verbose)
        # unknown step names are the same error with --list as without (`run` checks them)
        for name in list(args.force) + ([args.until] if args.until else []):
            runner.step(name)
        if args.list:
            print(runner.format_plan(runner.plan(force=args.force)))
            return 0
        results = runner.run(force=args.force, until=args.until)
        if not args.verbose:
            print_summaries(runner, results)
    except (PipelineConfigError, WorkDirLockedError, ConfigSyntaxError,
            ConflictingOptionsError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
