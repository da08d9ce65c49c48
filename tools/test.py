"""Evaluate a trained checkpoint on the test (or val) split of a config.

    .venv/bin/python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--tta] [--out DIR]
                                    [--show-dir DIR] [--show] [--wait-time S] [--partial-load]
                                    [--cfg-options k=v ...] [--launcher {none,pytorch}]

The flow is mmseg 1.x's ``tools/test.py``. ``--show-dir DIR`` turns the config's
``default_hooks.visualization`` on and sets ``visualizer.save_dir`` (mmseg's
``trigger_visualization_hook``): painted images go to ``DIR/vis_data/vis_image/``. A
segmentor (stage 3: ``SegVisualizationHook`` + ``SegLocalVisualizer``) paints ground truth |
prediction; a classifier (stage 1: ``MapVisualizationHook`` + ``MapLocalVisualizer``) paints
image | ground truth | the localization map of each of the image's classes.

``--out DIR`` makes the test metric write its results to DIR: mmseg's ``IoUMetric`` the
predicted masks (PNG), a classifier's ``ImageLabelMetric`` ``image_label_results.json``
(its metrics in percent and, per image, the true and predicted classes and the scores).

The number of parameters of the tested model is reported with the LID 2020 rule (an inference
model under 150 M parameters); ``--max-params N`` makes a larger model an error.

The checkpoint must fit the config's model exactly (an error names the file and the differing
weights; mmengine alone would warn and test mostly random weights) unless ``--partial-load``.
"""
import argparse
import inspect
import os.path as osp

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from wsss_toolbox.apis import add_common_args, load_cli_config, parse_with_local_rank
from wsss_toolbox.apis.cli import refuse_double_overrides
from wsss_toolbox.engine import finish_distributed, prepare_distributed
from wsss_toolbox.engine.checkpoint import check_checkpoint_fits
from wsss_toolbox.evaluation.lid import PARAMETER_LIMIT, format_parameter_rule, parameter_rule
from wsss_toolbox.registry import METRICS, RUNNERS, SCOPE
from wsss_toolbox.utils import register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Test (evaluate) a model',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dir for the results of the test metric: the predicted '
                        'masks (PNG) of a segmentor, image_label_results.json of a classifier')
    parser.add_argument('--show', action='store_true', help='show painted predictions')
    parser.add_argument(
        '--show-dir', help='dir to save painted predictions (in DIR/vis_data/vis_image/)')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument('--tta', action='store_true',
                        help='multi-scale + flip test (the config\'s tta_model/tta_pipeline)')
    parser.add_argument('--partial-load', action='store_true',
                        help='test even if only part of the checkpoint fits the model (the '
                        'rest keeps its initial values)')
    parser.add_argument('--max-params', type=float, default=None,
                        help='stop with an error when the model has this many parameters or '
                        'more (LID 2020: 150e6); without it the count is only reported')
    add_common_args(parser)
    return parse_with_local_rank(parser)


def trigger_visualization_hook(cfg: Config, args: argparse.Namespace) -> Config:
    """Turn on the config's visualization hook, as mmseg's ``tools/test.py``: ``draw``,
    ``show``/``wait_time`` for ``--show``, ``visualizer.save_dir`` for ``--show-dir``."""
    default_hooks = cfg.default_hooks
    if 'visualization' not in default_hooks:
        raise RuntimeError(
            '--show/--show-dir need a visualization hook in default_hooks, e.g. '
            "visualization=dict(type='SegVisualizationHook') for a segmentor, "
            "dict(type='MapVisualizationHook') for a classifier.")
    visualization_hook = default_hooks['visualization']
    visualization_hook['draw'] = True
    if args.show:
        visualization_hook['show'] = True
        visualization_hook['wait_time'] = args.wait_time
    if args.show_dir:
        cfg.visualizer['save_dir'] = args.show_dir
    return cfg


def build_config(args: argparse.Namespace) -> Config:
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'Checkpoint file "{args.checkpoint}" does not exist.')
    # the CHECKPOINT argument sets load_from: a `--cfg-options load_from=` would be ignored
    refuse_double_overrides(args.cfg_options, {'load_from': ('CHECKPOINT', args.checkpoint)})
    cfg = load_cli_config(args)
    cfg.load_from = args.checkpoint
    # testing reads no training data; left in, the training loop and dataset are built as
    # soon as something reads `runner.iter` (the visualization hooks do, for each image)
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler'):
        cfg[key] = None
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise KeyError(f'--tta needs `tta_model` and `tta_pipeline` in {args.config}.')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out is not None:
        set_output_dir(cfg, args.out, args.config)
    return cfg


def set_output_dir(cfg: Config, out: str, config_path: str) -> None:
    """``--out DIR``: every test metric writes its results to DIR (mmseg's ``IoUMetric``: the
    predicted masks; ``ImageLabelMetric``: ``image_label_results.json``). ``keep_results``
    (mmseg's ``tools/test.py``) is set only on metrics that take it.

    Raises:
        ValueError: a metric that cannot write results (no ``output_dir`` argument), named.
    """
    evaluator = cfg.get('test_evaluator')
    if not evaluator:
        raise ValueError(f'--out needs a test_evaluator in {config_path}.')
    metrics = evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', SCOPE)):
        for metric in metrics:
            metric_type = metric.get('type')
            metric_cls = METRICS.get(metric_type) if isinstance(metric_type, str) \
                else metric_type
            parameters = inspect.signature(metric_cls).parameters if metric_cls else {}
            takes_any = any(p.kind == p.VAR_KEYWORD for p in parameters.values())
            if metric_cls is not None and 'output_dir' not in parameters:
                raise ValueError(f'--out: the test metric {metric_type!r} of {config_path} '
                                 'takes no output_dir, so it cannot write results there.')
            metric['output_dir'] = out
            if metric_cls is None or takes_any or 'keep_results' in parameters:
                metric['keep_results'] = True


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = build_config(args)
    prepare_distributed(cfg)
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    if not args.partial_load:
        # mmengine loads `load_from` non-strictly: a checkpoint of another model would be
        # tested with mostly random weights
        check_checkpoint_fits(runner.model, args.checkpoint,
                              what=f'the model of {args.config}')
    limit = PARAMETER_LIMIT if args.max_params is None else int(args.max_params)
    report = parameter_rule(runner.model, limit)
    print_log(format_parameter_rule(report, 'tested model'), logger='current')
    if args.max_params is not None and not report['within_limit']:
        raise SystemExit(f'{args.config}: the model has {report["parameters"]:,} parameters, '
                         f'not fewer than --max-params {limit:,}.')
    runner.test()
    if args.show_dir:
        print_log(f'painted images: {osp.join(args.show_dir, "vis_data", "vis_image")}',
                  logger='current')
    finish_distributed()


if __name__ == '__main__':
    main()
