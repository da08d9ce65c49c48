"""Run the steps of a pipeline config in order, each skipped only when its fingerprint matches.

Work dir layout (``<work_dir>``)::

    .pipeline/<step>.json         record of a finished step: fingerprint, inputs, result
    .pipeline/<step>.started.json  written when a step starts, removed when it finishes
    .pipeline/lock                this run's lock (one run per work dir)
    <step>/                       the files of each step (checkpoints, maps, labels ...)

A step is *up to date* when its record exists, the fingerprint of its configuration (its
options, resolved stage configs, toolbox version) equals the recorded one, the run ids of its
inputs equal those it ran on, and its folder still exists. Anything else reruns it, and since
a rerun gives the step a new run id, every step downstream reruns too; the log says why. A
step interrupted with an unchanged fingerprint resumes (training from its latest checkpoint,
per-image steps skip the files already written); otherwise its folder is emptied first.
"""
import copy
import json
import os
import os.path as osp
import shutil
import time
import uuid
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.logging import print_log

from wsss_toolbox.engine.config import load_config
from wsss_toolbox.maps.io import atomic_write
from wsss_toolbox.registry import PIPELINE_STEPS

from .base_step import PipelineStep
from .config import PipelineConfigError, step_names
from .fingerprint import canonical, describe_changes, fingerprint
from .lock import WorkDirLock

RECORD_DIR = '.pipeline'
RESUMING = 'interrupted before, resuming'


def write_json(path: str, data: dict) -> None:
    """Atomic JSON write (NaN/inf become null)."""
    from wsss_toolbox.evaluation import to_jsonable
    text = json.dumps(to_jsonable(data), indent=2)
    atomic_write(path, lambda f: f.write(text.encode()))


def read_json(path: str) -> Optional[dict]:
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def _set_data_root(dataset_cfg: dict, data_root: str) -> None:
    """Set ``data_root`` on the dataset(s) that read files: through wrappers (a ``dataset``
    or ``datasets`` key, e.g. ``ImageGroupDataset``, ``ConcatDataset``) to the wrapped ones."""
    if isinstance(dataset_cfg.get('dataset'), dict):
        _set_data_root(dataset_cfg['dataset'], data_root)
    elif isinstance(dataset_cfg.get('datasets'), (list, tuple)):
        for inner in dataset_cfg['datasets']:
            _set_data_root(inner, data_root)
    else:
        dataset_cfg['data_root'] = data_root


class PipelineRunner:
    """Builds the steps of a pipeline config and runs them (``tools/pipeline.py``).

    Args:
        cfg: a pipeline config read by :func:`~wsss_toolbox.pipeline.load_pipeline_config`.
        work_dir: where every step writes.
    """

    def __init__(self, cfg: Config, work_dir: str) -> None:
        self.cfg = cfg
        self.work_dir = osp.abspath(work_dir)
        self.names = step_names(cfg)
        self._steps: Dict[str, PipelineStep] = {}
        self._sample_cache: Dict[str, tuple] = {}
        self._run_ids: Dict[str, Optional[str]] = {}
        for index, name in enumerate(self.names):
            self._steps[name] = self._build(name)
            for needed in self._steps[name].inputs():
                if needed not in self.names[:index]:
                    raise PipelineConfigError(
                        f'step "{name}" reads step "{needed}", which is not listed before it '
                        f'in `steps` ({self.names}).')

    def _build(self, name: str) -> PipelineStep:
        options = dict(copy.deepcopy(self.cfg[name]))
        step_type = options.pop('type')
        try:
            return PIPELINE_STEPS.build(dict(type=step_type, name=name, runner=self, **options))
        except TypeError as error:
            raise PipelineConfigError(f'step "{name}" ({step_type}): {error}. Check the '
                                      f'options of `{name}` in the pipeline config.') from error

    # ------------------------------------------------------------------ what steps use
    def path(self, *parts: str) -> str:
        return osp.join(self.work_dir, *parts)

    def step(self, name: str) -> PipelineStep:
        if name not in self._steps:
            raise PipelineConfigError(f'no step named "{name}" in `steps` ({self.names}).')
        return self._steps[name]

    def result(self, name: str) -> dict:
        """The recorded result of a finished step."""
        record = read_json(self._record_path(name))
        if record is None:
            raise RuntimeError(f'step "{name}" has not finished (no {self._record_path(name)}).')
        return record['result']

    def stage_config(self, path: str, cfg_options: Optional[dict], step_name: str) -> Config:
        """A stage (mmengine) config for a step: ``cfg_options`` merged, the pipeline's
        ``data_root`` applied to every dataloader, work dir ``<work_dir>/<step_name>``."""
        if not osp.isfile(path):
            raise FileNotFoundError(f'step "{step_name}": config "{path}" does not exist.')
        cfg = load_config(path)
        if cfg_options:
            cfg.merge_from_dict(dict(cfg_options))
        data_root = self.cfg.get('data_root')
        if data_root is not None:
            for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
                if cfg.get(loader) is not None:
                    _set_data_root(cfg[loader]['dataset'], data_root)
        cfg.work_dir = self.path(step_name)
        # one visualizer instance per step (mmengine keeps them by name in the process)
        if cfg.get('visualizer') is not None:
            cfg.visualizer['name'] = f'{step_name}_visualizer'
        cfg.setdefault('launcher', 'none')
        return cfg

    def dataset_samples(self, dataset_cfg: dict) -> Tuple[List[dict], List[str]]:
        """``(records, foreground class names)`` of a dataset config, built once per run."""
        key = fingerprint(dataset_cfg)
        if key not in self._sample_cache:
            from wsss_toolbox.pseudo_labels import samples_from_dataset_cfg
            samples, metainfo = samples_from_dataset_cfg(copy.deepcopy(dict(dataset_cfg)))
            self._sample_cache[key] = (samples, list(metainfo['classes']))
        return self._sample_cache[key]

    # ------------------------------------------------------------------ records
    def _record_path(self, name: str) -> str:
        return self.path(RECORD_DIR, f'{name}.json')

    def _started_path(self, name: str) -> str:
        return self.path(RECORD_DIR, f'{name}.started.json')

    def _identity(self, step: PipelineStep) -> dict:
        from wsss_toolbox import __version__
        # the data every step reads: the pipeline's data root and benchmark options
        config = canonical(dict(step=step.fingerprint_config(),
                                data_root=self.cfg.get('data_root'),
                                synthetic_benchmark=self.cfg.get('synthetic_benchmark')))
        return dict(fingerprint=fingerprint(dict(type=type(step).__name__, config=config,
                                                 version=__version__)),
                    config=config, version=__version__,
                    inputs={name: self._run_ids.get(name) for name in step.inputs()})

    def _status(self, step: PipelineStep, identity: dict, rerun: Iterable[str],
                forced: bool) -> Tuple[Optional[dict], str]:
        """``(record, reason)`` of a step given what reruns upstream: ``record`` is the
        step's finished record when it is up to date, else None."""
        if forced:
            return None, 'forced (--force)'
        changed = [name for name in step.inputs() if name in rerun]
        if changed:
            return None, f'input step(s) {changed} rerun'
        record = read_json(self._record_path(step.name))
        if record is None:
            started = read_json(self._started_path(step.name))
            if started is not None and started['fingerprint'] == identity['fingerprint'] \
                    and started['inputs'] == identity['inputs']:
                return None, RESUMING
            return None, 'not run yet'
        if record['fingerprint'] != identity['fingerprint']:
            changes = describe_changes(record.get('config'), identity['config'])
            if record.get('version') != identity['version']:
                changes.append(f"toolbox version {record.get('version')} -> "
                               f"{identity['version']}")
            return None, 'configuration changed: ' + ('; '.join(changes) or 'step type')
        if record['inputs'] != identity['inputs']:
            return None, 'an input step was rerun since'
        missing = step.missing_outputs(record['result'])
        if missing:
            return None, missing
        return record, 'up to date'

    # ------------------------------------------------------------------ running
    def plan(self, force: Sequence[str] = ()) -> List[Tuple[str, str, bool, str]]:
        """``(name, type, up_to_date, reason)`` of every step, without running anything."""
        rows, rerun = [], set()
        saved = dict(self._run_ids)
        try:
            for name in self.names:
                step = self._steps[name]
                record, reason = self._status(step, self._identity(step), rerun, name in force)
                self._run_ids[name] = record['run_id'] if record else None
                if record is None:
                    rerun.add(name)
                rows.append((name, type(step).__name__, record is not None, reason))
        finally:
            self._run_ids = saved
        return rows

    @staticmethod
    def format_plan(rows: Sequence[Tuple[str, str, bool, str]]) -> str:
        lines = [f"{'step':<24}{'type':<24}state", '-' * 78]
        for name, step_type, fresh, reason in rows:
            lines.append(f'{name:<24}{step_type:<24}{"done" if fresh else "to run"}'
                         f'{"" if fresh else ": " + reason}')
        return '\n'.join(lines)

    def run(self, force: Sequence[str] = (), until: Optional[str] = None) -> Dict[str, dict]:
        """Run the steps in order (through ``until``); return ``{name: result}``."""
        for name in list(force) + ([until] if until else []):
            self.step(name)  # unknown names are an error before anything runs
        os.makedirs(self.path(RECORD_DIR), exist_ok=True)
        with WorkDirLock(self.path(RECORD_DIR, 'lock')):
            self.prepare_data()
            results: Dict[str, dict] = {}
            rerun: set = set()
            for name in self.names:
                results[name] = self._run_step(self._steps[name], rerun, name in force)
                if name == until:
                    print_log(f'stopping after step "{until}" (--until)', logger='current')
                    break
            return results

    def _run_step(self, step: PipelineStep, rerun: set, forced: bool) -> dict:
        identity = self._identity(step)
        record, reason = self._status(step, identity, rerun, forced)
        name = step.name
        if record is not None:
            print_log(f'step "{name}": up to date, skipped', logger='current')
            self._run_ids[name] = record['run_id']
            return record['result']
        rerun.add(name)
        print_log(f'step "{name}" ({type(step).__name__}): running -- {reason}',
                  logger='current')
        if reason != RESUMING:
            self._clear(step)
        write_json(self._started_path(name), dict(fingerprint=identity['fingerprint'],
                                                  inputs=identity['inputs']))
        start = time.time()
        result = step.run()
        record = dict(identity, type=type(step).__name__, run_id=uuid.uuid4().hex,
                      seconds=round(time.time() - start, 1),
                      finished=time.strftime('%Y-%m-%d %H:%M:%S'), result=result)
        write_json(self._record_path(name), record)
        os.remove(self._started_path(name))
        self._run_ids[name] = record['run_id']
        return read_json(self._record_path(name))['result']  # as later runs will see it

    def _clear(self, step: PipelineStep) -> None:
        """Forget a step's earlier run: its record, and its folder if it has one."""
        for path in (self._record_path(step.name), self._started_path(step.name)):
            if osp.exists(path):
                os.remove(path)
        if step.writes_folder and osp.isdir(step.out_dir):
            print_log(f'step "{step.name}": removing the outputs of its earlier run '
                      f'({step.out_dir})', logger='current')
            shutil.rmtree(step.out_dir)

    def prepare_data(self) -> None:
        """Write the synthetic benchmark to ``data_root`` when the config asks for one."""
        options = self.cfg.get('synthetic_benchmark')
        data_root = self.cfg.get('data_root')
        if options is None or data_root is None:
            return
        from wsss_toolbox.datasets.synthetic_benchmark import (
            format_summary,
            generate_synthetic_benchmark,
        )
        written = read_json(osp.join(data_root, 'benchmark.json'))
        if written is not None:
            return
        print_log(f'writing the synthetic benchmark to {data_root}', logger='current')
        summary = generate_synthetic_benchmark(data_root, **dict(options))
        print_log('\n' + format_summary(summary), logger='current')
