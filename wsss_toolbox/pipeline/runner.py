"""Run the steps of a pipeline config in order, each skipped only when its fingerprint matches.

Work dir layout (``<work_dir>``)::

    .pipeline/<step>.json         record of a finished step: fingerprint, inputs, result
    .pipeline/<step>.started.json  written when a step starts, removed when it finishes
    .pipeline/lock                this run's lock (one run per work dir)
    .pipeline/<step>.files.json   what it read: stats of its input files, per-image signatures
    <step>/                       the files of each step (checkpoints, maps, labels ...)
    logs/<step>.log               what the step wrote while it ran (quiet runs, :mod:`.console`)

A step is *up to date* when its record exists, the fingerprint of its configuration (its
options, resolved stage configs, toolbox version) equals the recorded one, the run ids of its
inputs equal those it ran on, the files it reads (:meth:`PipelineStep.input_files`: size +
mtime, contents of small list files) are those it read, and its folder still exists.
Anything else reruns it, and since a rerun gives the step a new run id, every step downstream
reruns too; the log says why (the changed keys, the changed files). A step with per-image
outputs whose configuration and inputs are unchanged remakes only the images whose record or
files changed (:mod:`.input_state`); it keeps its run id and gets a new *update id*: later
per-image steps then remake those images, any other later step reruns. A step interrupted
with an unchanged fingerprint and input files resumes (training from its latest checkpoint,
per-image steps skip the files already written); otherwise its folder is emptied first.

(Over 400 lines: the decision whether a step is up to date, its partial remake and the run
loop share the records' format and are read together; the file bookkeeping itself lives in
:mod:`.file_digest` and :mod:`.input_state`.)
"""
import copy
import json
import os
import os.path as osp
import shutil
import time
import uuid
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.logging import print_log

from wsss_toolbox import __version__
from wsss_toolbox.datasets.synthetic_benchmark import format_summary, generate_synthetic_benchmark
from wsss_toolbox.datasets.synthetic_benchmark.generator import (
    SUMMARY_FILE,
    config_record,
    resolve_benchmark_config,
)
from wsss_toolbox.engine.config import load_config
from wsss_toolbox.evaluation import to_jsonable
from wsss_toolbox.maps.io import atomic_write
from wsss_toolbox.pseudo_labels import samples_from_dataset_cfg
from wsss_toolbox.registry import PIPELINE_STEPS

from .base_step import PipelineStep
from .config import PipelineConfigError, step_names
from .console import PipelineConsole
from .file_digest import (
    NAMED_IN_MESSAGES,
    FileNamer,
    InputFiles,
    describe_file_changes,
    missing_message,
)
from .fingerprint import canonical, describe_changes, fingerprint
from .input_state import (
    StepFiles,
    read_files_record,
    read_step_files,
    remove_image_outputs,
    stale_images,
)
from .lock import WorkDirLock

RECORD_DIR = '.pipeline'
RESUMING = 'interrupted before, resuming'


def write_json(path: str, data: dict) -> None:
    """Atomic JSON write (NaN/inf become null)."""
    text = json.dumps(to_jsonable(data), indent=2)
    atomic_write(path, lambda f: f.write(text.encode()))


def read_json(path: str) -> Optional[dict]:
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


class Verdict(NamedTuple):
    """What to do with a step: ``record`` is its finished record when it is up to date or
    only some of its images are to be remade (``redo``: ``{img_id: why}``), else None."""
    record: Optional[dict]
    reason: str
    redo: Optional[Dict[str, str]] = None

    @property
    def up_to_date(self) -> bool:
        return self.record is not None and self.redo is None


def describe_redo(redo: Dict[str, str], total: int) -> str:
    """The reason of a per-image update: how many images, which, and why."""
    items = [f'{img_id}: {why}' for img_id, why in redo.items()]
    shown = '; '.join(items[:NAMED_IN_MESSAGES])
    if len(items) > NAMED_IN_MESSAGES:
        shown += f'; and {len(items) - NAMED_IN_MESSAGES} more'
    return f'{len(redo)} of {total} images changed since it ran, only they are remade ({shown})'



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
        verbose: show everything the steps write (default); False: one line per step on the
            terminal, each step's output in ``<work_dir>/logs/<step>.log``
            (:mod:`.console`).
    """

    def __init__(self, cfg: Config, work_dir: str, verbose: bool = True) -> None:
        self.cfg = cfg
        self.work_dir = osp.abspath(work_dir)
        self.names = step_names(cfg)
        self.console = PipelineConsole(self.work_dir, len(self.names), verbose)
        self._steps: Dict[str, PipelineStep] = {}
        self._sample_cache: Dict[str, tuple] = {}
        self._run_ids: Dict[str, Optional[str]] = {}  # new on a full run only
        self._update_ids: Dict[str, Optional[str]] = {}  # new on every run, per-image too
        self._redone: Dict[str, set] = {}  # images a per-image step remakes in this run
        self._files: Dict[str, StepFiles] = {}
        # file names in records: relative to data_root, or to the work dir (copies keep them)
        self.file_name = FileNamer([('', cfg.get('data_root')), ('<work_dir>/', self.work_dir)])
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
            samples, metainfo = samples_from_dataset_cfg(copy.deepcopy(dict(dataset_cfg)))
            self._sample_cache[key] = (samples, list(metainfo['classes']))
        return self._sample_cache[key]

    def dataset_files(self, dataset_cfg: dict) -> InputFiles:
        """What a dataset config reads: its images, masks, saliency maps ... (every
        ``*_path`` of its items), what its list / label files say of each image (its
        record) and its class names."""
        samples, classes = self.dataset_samples(dataset_cfg)
        return InputFiles.of_records(samples) + InputFiles(values={'class names': classes})

    # ------------------------------------------------------------------ records
    def _record_path(self, name: str) -> str:
        return self.path(RECORD_DIR, f'{name}.json')

    def _started_path(self, name: str) -> str:
        return self.path(RECORD_DIR, f'{name}.started.json')

    def _files_path(self, name: str) -> str:
        return self.path(RECORD_DIR, f'{name}.files.json')

    def _identity(self, step: PipelineStep) -> dict:
        # the data every step reads: the pipeline's data root and benchmark options (the
        # files themselves: ``_step_files``)
        config = canonical(dict(step=step.fingerprint_config(),
                                data_root=self.cfg.get('data_root'),
                                synthetic_benchmark=self.cfg.get('synthetic_benchmark')))
        return dict(fingerprint=fingerprint(dict(type=type(step).__name__, config=config,
                                                 version=__version__)),
                    config=config, version=__version__,
                    inputs={name: self._run_ids.get(name) for name in step.inputs()},
                    input_updates={name: self._update_ids.get(name) for name in step.inputs()})

    def _step_files(self, step: PipelineStep) -> StepFiles:
        """What ``step`` reads now (stats once per step and run)."""
        if step.name not in self._files:
            try:
                self._files[step.name] = read_step_files(step, self.file_name)
            except FileNotFoundError as error:
                raise FileNotFoundError(f'step "{step.name}": {error}') from error
        return self._files[step.name]

    def _status(self, step: PipelineStep, identity: dict, rerun: Iterable[str],
                forced: bool) -> Verdict:
        """What to do with a step given what reruns upstream (see :class:`Verdict`)."""
        if forced:
            return Verdict(None, 'forced (--force)')
        changed = [name for name in step.inputs() if name in rerun]
        if changed:
            return Verdict(None, f'input step(s) {changed} rerun')
        record = read_json(self._record_path(step.name))
        if record is None:
            started = read_json(self._started_path(step.name))
            if started is not None and started['fingerprint'] == identity['fingerprint'] \
                    and started['inputs'] == identity['inputs']:
                try:
                    files = self._step_files(step)
                except FileNotFoundError as error:
                    return Verdict(None, f'not run yet ({error.__cause__ or error})')
                if started.get('files', files.digest) == files.digest:
                    return Verdict(None, RESUMING)
                return Verdict(None, 'interrupted before, its input files changed since')
            return Verdict(None, 'not run yet')
        if record['fingerprint'] != identity['fingerprint']:
            changes = describe_changes(record.get('config'), identity['config'])
            if record.get('version') != identity['version']:
                changes.append(f"toolbox version {record.get('version')} -> "
                               f"{identity['version']}")
            return Verdict(None, 'configuration changed: ' + ('; '.join(changes) or 'step type'))
        if record['inputs'] != identity['inputs']:
            return Verdict(None, 'an input step was rerun since')
        missing = step.missing_outputs(record['result'])
        if missing:
            return Verdict(None, missing)
        try:
            files = self._step_files(step)
        except FileNotFoundError as error:
            return Verdict(None, f'input files changed: {error.__cause__ or error}')
        # a record of a version that did not keep the files: they are taken as they are now
        recorded = read_files_record(self._files_path(step.name)) if 'files' in record \
            else None
        recorded = recorded or files.to_json()
        if record.get('files', files.digest) != files.digest:
            changes = describe_file_changes(recorded['files'], files.files)
            return Verdict(None, 'input files changed: ' + (changes or 'their contents'))
        if step.per_image_outputs:
            upstream = {img_id: f'input step "{name}" remakes it' for name in step.inputs()
                        for img_id in self._redone.get(name, ())}
            redo = stale_images(step, files, recorded, upstream)
            if redo:
                return Verdict(record, describe_redo(redo, len(files.images)), redo)
            return Verdict(record, 'up to date')
        before = record.get('input_updates') or {}
        updated = [name for name, update in identity['input_updates'].items()
                   if before.get(name, update) != update]
        if updated:
            return Verdict(None, f'input step(s) {updated} remade some of their images since')
        return Verdict(record, 'up to date')

    def _note(self, name: str, verdict: Verdict, rerun: set, update_id: str) -> None:
        """Keep a step's run and update ids for the steps after it."""
        record = verdict.record
        if record is None:
            rerun.add(name)
            self._run_ids[name] = self._update_ids[name] = None
            return
        self._run_ids[name] = record['run_id']
        if verdict.redo is None:
            self._update_ids[name] = record.get('update_id', record['run_id'])
        else:
            self._update_ids[name] = update_id
            self._redone[name] = set(verdict.redo)

    # ------------------------------------------------------------------ running
    def plan(self, force: Sequence[str] = ()) -> List[Tuple[str, str, bool, str]]:
        """``(name, type, up_to_date, reason)`` of every step, without running anything."""
        self.check_benchmark()
        rows, rerun = [], set()
        saved = dict(self._run_ids), dict(self._update_ids), dict(self._redone)
        self._files.clear()
        self._sample_cache.clear()  # the image lists as they are now
        self._redone = {}
        try:
            for name in self.names:
                step = self._steps[name]
                verdict = self._status(step, self._identity(step), rerun, name in force)
                self._note(name, verdict, rerun, update_id='planned')
                rows.append((name, type(step).__name__, verdict.up_to_date, verdict.reason))
        finally:
            self._run_ids, self._update_ids, self._redone = saved
            self._files.clear()
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
            self._sample_cache.clear()
            self._redone.clear()
            results: Dict[str, dict] = {}
            rerun: set = set()
            for name in self.names:
                results[name] = self._run_step(self._steps[name], rerun, name in force)
                if name == until:
                    self.console.note(f'stopping after step "{until}" (--until)')
                    break
            return results

    def _run_step(self, step: PipelineStep, rerun: set, forced: bool) -> dict:
        name = step.name
        self._files.pop(name, None)  # earlier steps of this run may have rewritten its inputs
        identity = self._identity(step)
        verdict = self._status(step, identity, rerun, forced)
        if verdict.up_to_date:
            record = self._refresh(step, verdict.record, identity)
            self._note(name, verdict._replace(record=record), rerun, '')
            self.console.skipped(step, record['result'])
            return record['result']
        files = self._step_files(step)  # what this run reads (a missing file: an error)
        if files.missing:
            raise FileNotFoundError(f'step "{name}": ' + missing_message(
                [path for paths in files.missing.values() for path in paths]))
        status = 'resumed' if verdict.reason == RESUMING else (
            'updated' if verdict.redo is not None else 'run')
        # quiet: from here on, what the step writes goes to its log (``.console``)
        with self.console.running(step, status, verdict.reason) as report:
            print_log(f'step "{name}" ({type(step).__name__}): running -- {verdict.reason}',
                      logger='current')
            if verdict.redo is not None:
                remove_image_outputs(step, verdict.redo)
                run_id = verdict.record['run_id']
            else:
                if verdict.reason == RESUMING:
                    self._drop_changed_images(step, files)
                else:
                    self._clear(step)
                rerun.add(name)
                write_json(self._started_path(name), dict(fingerprint=identity['fingerprint'],
                                                          inputs=identity['inputs'],
                                                          files=files.digest))
                if step.per_image_outputs:  # a resumed run keeps what images were made from
                    write_json(self._files_path(name), files.to_json())
                run_id = uuid.uuid4().hex
            start = time.time()
            result = step.run()
            record = dict(identity, type=type(step).__name__, run_id=run_id,
                          update_id=uuid.uuid4().hex, files=files.digest,
                          seconds=round(time.time() - start, 1),
                          finished=time.strftime('%Y-%m-%d %H:%M:%S'), result=result)
            write_json(self._files_path(name), files.to_json())
            write_json(self._record_path(name), record)
            if osp.exists(self._started_path(name)):
                os.remove(self._started_path(name))
            record = read_json(self._record_path(name))  # as later runs will see it
            self._note(name, verdict._replace(record=record), rerun, record['update_id'])
            report.result = record['result']
        return record['result']

    def _refresh(self, step: PipelineStep, record: dict, identity: dict) -> dict:
        """The record of an up-to-date step, with what it reads now written down when that
        was not kept (a record of an earlier version) or its input steps' update ids moved."""
        files = self._step_files(step)
        if 'files' not in record:
            print_log(f'step "{step.name}": the version that ran it kept no list of the files '
                      'it read; recording them as they are now (--force it if they changed '
                      'since)', logger='current', level=30)
        if record.get('files') == files.digest and osp.isfile(self._files_path(step.name)) \
                and record.get('input_updates') == identity['input_updates'] \
                and 'update_id' in record:
            return record
        record = dict(record, files=files.digest, input_updates=identity['input_updates'],
                      update_id=record.get('update_id', record['run_id']))
        write_json(self._files_path(step.name), files.to_json())
        write_json(self._record_path(step.name), record)
        return record

    def _drop_changed_images(self, step: PipelineStep, files: StepFiles) -> None:
        """Before a per-image step resumes: remove the outputs of images changed since."""
        started = read_files_record(self._files_path(step.name))
        if step.per_image_outputs and started is not None:
            redo = stale_images(step, files, started, {})
            removed = remove_image_outputs(step, redo)
            if removed:
                print_log(f'step "{step.name}": {describe_redo(redo, len(files.images))}',
                          logger='current')

    def _clear(self, step: PipelineStep) -> None:
        """Forget a step's earlier run: its record, and its folder if it has one."""
        for path in (self._record_path(step.name), self._started_path(step.name),
                     self._files_path(step.name)):
            if osp.exists(path):
                os.remove(path)
        if step.writes_folder and osp.isdir(step.out_dir):
            print_log(f'step "{step.name}": removing the outputs of its earlier run '
                      f'({step.out_dir})', logger='current')
            shutil.rmtree(step.out_dir)

    def check_benchmark(self) -> bool:
        """Whether ``data_root`` holds the synthetic benchmark ``synthetic_benchmark`` asks
        for (True also when the config asks for none); False when it holds none yet. A
        benchmark generated with other options is an error naming the differences."""
        options = self.cfg.get('synthetic_benchmark')
        data_root = self.cfg.get('data_root')
        if options is None or data_root is None:
            return True
        path = osp.join(data_root, SUMMARY_FILE)
        written = read_json(path)
        if written is None:
            return False
        wanted = {key: value for key, value in dict(options).items()
                  if key not in ('num_workers', 'show_progress')}  # not in the output
        requested = canonical(config_record(resolve_benchmark_config(**wanted)))
        changes = describe_changes(canonical(written.get('config')), requested, limit=10)
        if changes:
            raise PipelineConfigError(
                f'data_root {data_root} holds a synthetic benchmark generated with other '
                f'options than `synthetic_benchmark` asks for (on disk -> requested, from '
                f'{path}): {"; ".join(changes)}. Use another data_root (--cfg-options '
                f'data_root=...), or delete the folder {data_root} to have it generated '
                'again with these options.')
        return True

    def prepare_data(self) -> None:
        """Write the synthetic benchmark to ``data_root`` when the config asks for one and
        the folder holds none (one made with other options is an error)."""
        if self.check_benchmark():
            return
        data_root = self.cfg.get('data_root')
        with self.console.task('synthetic_benchmark',
                               f'wrote the synthetic benchmark to {data_root}'):
            print_log(f'writing the synthetic benchmark to {data_root}', logger='current')
            summary = generate_synthetic_benchmark(data_root,
                                                   **dict(self.cfg.synthetic_benchmark))
            print_log('\n' + format_summary(summary), logger='current')
