"""The last step of a pipeline: the result table of the earlier steps (``summary.json``), the
inference model's parameter count, a figure of the maps and labels and ``report.html``."""
import copy
import logging
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Union

from mmengine.logging import print_log

from wsss_toolbox.evaluation import metrics_in_percent
from wsss_toolbox.evaluation.lid import format_parameter_rule, parameter_rule
from wsss_toolbox.registry import MODELS, PIPELINE_STEPS
from wsss_toolbox.visualization import save_pipeline_figure, write_pipeline_report

from .base_step import PipelineStep, SummaryRow, summary_row_dict
from .file_digest import InputFiles
from .runner import write_json
from .train_steps import TrainStep


@PIPELINE_STEPS.register_module()
class Summarize(PipelineStep):
    """The result table of the pipeline: the rows of every earlier step (``steps``; default
    all), printed and written to ``<work_dir>/summary.json``; with ``figure`` also a figure
    ``<work_dir>/figure.png`` (image / ground truth / map / each label folder) of the first
    ``num_images`` images of ``figure['maps']`` and the label steps ``figure['labels']``.

    The parameters of the inference model (``inference_model``: a training step; default the
    last one of ``steps``) are counted, built from its config without weights, and checked
    against the LID 2020 rule (< ``parameter_limit``): printed and in ``summary.json``
    (``inference_model``).

    ``<work_dir>/report.html`` (:func:`~wsss_toolbox.visualization.write_pipeline_report`) shows
    the table, the plots and a paged grid of the figure's images; ``report`` passes options
    on (e.g. ``dict(num_images=24, predict=False)``), ``report=False`` writes none."""
    fingerprint_options = ('steps', 'figure', 'inference_model', 'parameter_limit')
    writes_folder = False

    def __init__(self, name: str, runner, steps: Optional[Sequence[str]] = None,
                 figure: Optional[dict] = None, inference_model: Optional[str] = None,
                 parameter_limit: int = 150_000_000,
                 report: Union[bool, dict, None] = None) -> None:
        super().__init__(name, runner)
        if report is not None and not isinstance(report, (bool, dict)):
            raise TypeError(f'step "{name}": report must be True, False or a dict of '
                            f'write_pipeline_report options, got {report!r}')
        self.report = report
        if steps is None:
            steps = runner.names[:runner.names.index(name)]
        self.steps, self.figure = list(steps), figure
        self.inference_model, self.parameter_limit = inference_model, parameter_limit

    def fingerprint_config(self) -> Any:
        config = super().fingerprint_config()
        if self.report is not None:  # unset, the fingerprint stays that of earlier versions
            config['report'] = self.report
        return config

    def inference_model_report(self) -> Optional[Dict[str, Any]]:
        """``dict(step, config, parameters, limit, within_limit)`` of the inference model, or
        None when the pipeline has no training step."""
        name = self.inference_model
        if name is None:
            trained = [step for step in self.steps
                       if isinstance(self.runner.step(step), TrainStep)]
            if not trained:
                return None
            name = trained[-1]
        step = self.runner.step(name)
        if not isinstance(step, TrainStep):
            raise ValueError(f'step "{self.name}": inference_model={name!r} is not a training '
                             'step (TrainClassifier / TrainSegmentor).')
        model_cfg = copy.deepcopy(step.stage_config().model)
        backbone = model_cfg.get('backbone')
        if isinstance(backbone, dict) and backbone.get('init_cfg') is not None:
            backbone['init_cfg'] = None  # count, do not load
        report = parameter_rule(MODELS.build(model_cfg), self.parameter_limit)
        return dict(report, step=name, config=step.config)

    def input_files(self) -> InputFiles:
        """The images and masks its figure shows."""
        if not self.figure:
            return InputFiles()
        samples, _ = self.runner.step(self.figure['maps']).samples()
        return InputFiles.of_records(samples[:self.figure.get('num_images', 4)])

    def inputs(self) -> List[str]:
        figure = self.figure or {}
        extra = [figure.get('maps')] + list(figure.get('labels', []))
        return self.steps + [s for s in extra if s and s not in self.steps]

    # ------------------------------------------------------------------ run, in parts
    def run(self) -> Dict[str, Any]:
        rows, warnings = self.collect_rows(), self.collect_warnings()
        parameters = self.inference_model_report()
        self.write_summary(rows, warnings, parameters)
        self.print_summary(rows, warnings, parameters)
        if self.figure:
            self.draw_figure()
        if self.report is not False:
            self.write_report()
        return dict(rows=rows, warnings=warnings, inference_model=parameters)

    def collect_rows(self) -> List[Dict[str, Any]]:
        """The rows of every step of ``steps``, as written to ``summary.json`` (a step may
        give :class:`SummaryRow` records or, written for earlier versions, dicts)."""
        return [summary_row_dict(row, name) for name in self.steps
                for row in self.runner.step(name).summary_rows(self.runner.result(name))]

    def collect_warnings(self) -> List[str]:
        """The ``warnings`` of the steps' results (degenerate maps ...), listed after the
        table."""
        return [f'step "{name}": {message}' for name in self.steps
                for message in self.runner.result(name).get('warnings') or []]

    def write_summary(self, rows: List[Dict[str, Any]], warnings: List[str],
                      parameters: Optional[Dict[str, Any]]) -> None:
        """``<work_dir>/summary.json``: the rows, the warnings, every step's result and the
        inference model's parameter count."""
        # the steps' results in percent, as the rows (their records keep the API's fractions)
        summary = dict(rows=rows, warnings=warnings,
                       steps={name: metrics_in_percent(self.runner.result(name))
                              for name in self.steps})
        if parameters is not None:
            summary['inference_model'] = parameters
        write_json(self.runner.path('summary.json'), summary)

    def print_summary(self, rows: List[Dict[str, Any]], warnings: List[str],
                      parameters: Optional[Dict[str, Any]]) -> None:
        """The table, the warnings and the parameter rule, in the log."""
        print_log('\n' + format_table(rows), logger='current')
        if warnings:
            print_log(format_warnings(warnings), logger='current', level=logging.WARNING)
        if parameters is not None:
            print_log(format_parameter_rule(
                parameters, f'inference model (step "{parameters["step"]}")'),
                logger='current')

    def draw_figure(self) -> str:
        """``<work_dir>/figure.png`` of ``figure``; returns its path."""
        maps = self.runner.step(self.figure['maps'])
        samples, classes = maps.samples()
        path = save_pipeline_figure(
            samples[:self.figure.get('num_images', 4)], maps.out_dir,
            [self.runner.step(name).out_dir for name in self.figure.get('labels', [])],
            len(classes) + 1, self.runner.path('figure.png'),
            dataset_meta=dict(classes=classes))
        print_log(f'figure: {path}', logger='current')
        return path

    def write_report(self) -> str:
        """``<work_dir>/report.html``; returns its path. Its images are those of the figure
        (its maps and label steps) when there is one; the report reads the rest from the
        work dir. (This step's own record is written after it returns, hence the
        arguments.)"""
        figure = self.figure or {}
        maps = figure.get('maps')
        samples, classes = self.runner.step(maps).samples() if maps else (None, None)
        options = self.report if isinstance(self.report, dict) else {}
        path = write_pipeline_report(self.runner.work_dir, samples=samples, classes=classes,
                                     maps=maps, labels=figure.get('labels'), **options)
        print_log(f'report: {path}', logger='current')
        return path

    def outputs_exist(self, result: Optional[dict]) -> bool:
        return osp.isfile(self.runner.path('summary.json'))


def format_table(rows: Sequence[Union[SummaryRow, Dict[str, Any]]]) -> str:
    """The summary rows (:class:`SummaryRow` or dicts) as a text table (missing values left
    blank)."""
    lines = [f"{'result':<42}{'mIoU %':>9}{'other %':>16}", '-' * 67]
    for row in rows:
        miou = '' if row.get('mIoU') is None else f"{row['mIoU']:.2f}"
        if row.get('ignored') is not None:
            other = f"{row['ignored']:.2f} ignored"
        else:
            other = '' if row.get('value') is None else f"{row['value']:.2f}"
        lines.append(f"{row['name']:<42}{miou:>9}{other:>16}")
    return '\n'.join(lines)


def format_warnings(warnings: Sequence[str]) -> str:
    """The warnings section printed after the summary table ('' when there is none)."""
    if not warnings:
        return ''
    return '\n'.join([f'warnings ({len(warnings)}): the results above may be degenerate'] +
                     [f'  - {message}' for message in warnings])
