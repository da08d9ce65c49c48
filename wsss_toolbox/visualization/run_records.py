"""What a finished pipeline run left in its work dir, read back for reports.

The work dir (``wsss_toolbox.pipeline.runner``) holds ``summary.json`` (the result table),
``.pipeline/<step>.json`` (each finished step's record: ``type``, ``config``, ``inputs``,
``run_id``, ``result``) and ``<step>/`` (each step's files: map ``<img_id>.npz``, label
``<img_id>.png``, checkpoints, mmengine logs). Steps are recognised by what their result
holds, so that a method's own steps (a map step, a label step) show up as the core ones do.
"""
import copy
import glob
import json
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Tuple

import mmcv
import numpy as np

from wsss_toolbox.pseudo_labels import samples_from_dataset_cfg

RECORD_DIR = '.pipeline'
SUMMARY_FILE = 'summary.json'
#: the per-class table mmseg's IoUMetric prints in a test log
_LOG_ROW = re.compile(r'^\|\s*(?P<name>[^|]+?)\s*\|\s*(?P<iou>[-\w.]+)\s*\|')


class PipelineRun:
    """The records of one work dir (``work_dir``): ``records`` ``{step: record}`` in run
    order, ``summary`` (``summary.json``, None before the summary step wrote it)."""

    def __init__(self, work_dir: str) -> None:
        self.work_dir = osp.abspath(work_dir)
        record_dir = osp.join(self.work_dir, RECORD_DIR)
        if not osp.isdir(record_dir):
            raise FileNotFoundError(
                f'{self.work_dir} is not the work dir of a pipeline run (no {RECORD_DIR}/ '
                'folder); pass the --work-dir of tools/pipeline.py.')
        self.summary = _read_json(osp.join(self.work_dir, SUMMARY_FILE))
        records = {}
        for path in glob.glob(osp.join(record_dir, '*.json')):
            name = osp.basename(path)[:-len('.json')]
            if '.' not in name:  # not <step>.files.json / <step>.started.json
                records[name] = _read_json(path)
        order = list((self.summary or {}).get('steps', {}))
        self.records: Dict[str, dict] = {
            name: records[name] for name in sorted(
                records, key=lambda n: (order.index(n) if n in order else len(order),
                                        records[n].get('finished', ''), n))}

    @property
    def name(self) -> str:
        return osp.basename(self.work_dir.rstrip('/'))

    def folder(self, step: str) -> str:
        return osp.join(self.work_dir, step)

    def result(self, step: str) -> dict:
        return self.records[step].get('result') or {}

    def options(self, step: str) -> dict:
        config = self.records[step].get('config') or {}
        return config.get('step') if isinstance(config.get('step'), dict) else {}

    def steps_with(self, key: str) -> List[str]:
        """Steps whose result has ``key``."""
        return [name for name in self.records if key in self.result(name)]

    def figure_options(self) -> dict:
        """``figure`` of the summary step (``maps``, ``labels``), {} when none."""
        for name, record in self.records.items():
            if record.get('type') == 'Summarize':
                return dict(self.options(name).get('figure') or {})
        return {}

    def map_step(self) -> Optional[str]:
        """The maps of the figure, else the first step whose folder holds map files."""
        figure = self.figure_options().get('maps')
        if figure in self.records:
            return figure
        for name in self.records:
            if glob.glob(osp.join(self.folder(name), '*.npz')):
                return name
        return None

    def label_steps(self) -> List[str]:
        """Steps that wrote a folder of pseudo labels (their result has ``eval`` or
        ``ignored_fraction``)."""
        return [name for name in self.records
                if {'eval', 'ignored_fraction'} & set(self.result(name))
                and osp.isdir(self.folder(name))]

    def segmentor_step(self) -> Optional[str]:
        """The last trained segmentor (a ``TrainSegmentor``-like record: ``checkpoint`` and
        ``labels`` in its result, a ``model`` in its config)."""
        found = [name for name in self.records
                 if {'checkpoint', 'labels'} <= set(self.result(name))
                 and 'model' in self.options(name)]
        return found[-1] if found else None

    def test_steps(self) -> List[str]:
        """Steps that tested a segmentor (``metrics`` with ``mIoU`` in their result)."""
        return [name for name in self.steps_with('metrics')
                if 'mIoU' in (self.result(name)['metrics'] or {})]

    def samples(self, map_step: str) -> Tuple[List[dict], List[str]]:
        """``(image records, foreground classes)`` of the images of ``map_step``: the dataset
        of the training step upstream of it (its ``split``)."""
        split = self.result(map_step).get('split', 'train')
        seen, todo = set(), [map_step]
        while todo:
            name = todo.pop(0)
            seen.add(name)
            options = self.options(name)
            loader = options.get(f'{split}_dataloader') or {}
            if isinstance(loader, dict) and loader.get('dataset'):
                dataset = copy.deepcopy(loader['dataset'])
                self._resolve_data_root(dataset)
                samples, metainfo = samples_from_dataset_cfg(dataset)
                return samples, list(metainfo['classes'])
            todo += [step for step in self.records[name].get('inputs') or {}
                     if step in self.records and step not in seen]
        raise ValueError(f'{self.work_dir}: no training step upstream of "{map_step}" names '
                         'the dataset of its images; pass samples= and classes=.')

    def _resolve_data_root(self, dataset: dict) -> None:
        """A relative ``data_root`` (of the dataset or the one it wraps) is relative to the
        folder the pipeline ran in, which the records do not keep: the nearest folder above
        the work dir that has it, else the current folder."""
        while isinstance(dataset.get('dataset'), dict) and 'data_root' not in dataset:
            dataset = dataset['dataset']
        root = dataset.get('data_root')
        if not root or osp.isabs(root):
            return
        folder = osp.dirname(self.work_dir)
        while folder != osp.dirname(folder):
            if osp.isdir(osp.join(folder, root)):
                dataset['data_root'] = osp.join(folder, root)
                return
            folder = osp.dirname(folder)

    def per_class_iou(self) -> List[Tuple[str, List[str], List[Optional[float]]]]:
        """``[(what, class names, IoU per class in %)]`` of the maps at their best background
        threshold, of each label folder and of each tested segmentor."""
        found = []
        for name in self.records:
            result = self.result(name)
            sweep = result.get('threshold_sweep') or {}
            metrics = sweep.get('best_metrics') or (result.get('eval') or {}).get('metrics')
            if metrics and metrics.get('IoU') is not None and metrics.get('class_names'):
                what = (f'{name} (maps @ {sweep["best_threshold"]:.2f})' if sweep else name)
                found.append((what, list(metrics['class_names']), _percent(metrics['IoU'])))
        for name in self.test_steps():
            table = test_log_per_class(self.folder(name))
            if table:
                found.append((f'{name} (segmentor)', list(table), list(table.values())))
        return found


def test_log_per_class(folder: str) -> Dict[str, Optional[float]]:
    """``{class: IoU %}`` of the per-class table mmseg's ``IoUMetric`` printed in the newest
    mmengine log under ``folder`` ({} when there is none)."""
    logs = sorted(glob.glob(osp.join(folder, '*', '*.log')))
    if not logs:
        return {}
    with open(logs[-1], errors='replace') as f:
        text = f.read()
    start = text.rfind('per class results:')
    if start < 0:
        return {}
    table = {}
    for line in text[start:].splitlines()[1:]:
        line = line.split(' - ', 2)[-1] if ' - mmengine - ' in line else line
        if table and not line.startswith(('|', '+')):
            break
        match = _LOG_ROW.match(line.strip())
        if match and match['name'] != 'Class':
            table[match['name']] = _float(match['iou'])
    return table


def predict_labels(run: PipelineRun, segmentor: str, samples: List[dict]) -> Dict[str, str]:
    """``{img_id: label PNG}`` of the segmentor of step ``segmentor`` on ``samples`` (the
    images of the report's grid), cached in ``<work_dir>/.report/<step>-<run id>/``."""
    record = run.records[segmentor]
    cache = osp.join(run.work_dir, '.report', f'{segmentor}-{record.get("run_id", "")[:12]}')
    paths = {s['img_id']: osp.join(cache, f'{s["img_id"]}.png') for s in samples}
    todo = [s for s in samples if not osp.isfile(paths[s['img_id']])]
    if todo:
        # lazy: building a segmentor pulls in torch and every registry; only when predicting
        import torch
        from mmengine.config import Config
        from mmseg.apis import inference_model, init_model

        from wsss_toolbox.utils import register_all_modules
        register_all_modules(init_default_scope=False)
        checkpoint = osp.join(run.folder(segmentor), run.result(segmentor)['checkpoint'])
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f'step "{segmentor}": checkpoint {checkpoint} is missing')
        cfg = Config(run.options(segmentor))
        device = 'cuda:0' if torch.cuda.is_available() else 'cpu'
        model = init_model(cfg, checkpoint, device=device)
        os.makedirs(cache, exist_ok=True)
        with torch.no_grad():
            for sample in todo:
                pred = inference_model(model, sample['img_path']).pred_sem_seg.data[0]
                mmcv.imwrite(pred.cpu().numpy().astype(np.uint8), paths[sample['img_id']])
    return paths


def _read_json(path: str) -> Optional[dict]:
    if not osp.isfile(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as error:
        raise ValueError(f'{path} is not valid JSON: {error}') from error


def _float(text: str) -> Optional[float]:
    try:
        value = float(text)
    except ValueError:
        return None
    return None if np.isnan(value) else value


def _percent(values) -> List[Optional[float]]:
    return [None if value is None or np.isnan(value) else 100 * float(value)
            for value in values]
