"""Pipeline steps of the LID 2020 tracks (configs/lid/README.md): the track-3 result of a map
step (IoU-threshold curve, Peak-IoU, Peak-Threshold), the track-1 validation metrics side by
side, and the track-1 result files of a test split (registered with the core steps)."""
import os
import os.path as osp
from typing import Any, Dict, List, Optional

import mmcv
import numpy as np
from mmengine.logging import print_log
from mmengine.runner import Runner

from wsss_toolbox.evaluation import metrics_in_percent
from wsss_toolbox.evaluation.lid import evaluate_peak_iou
from wsss_toolbox.registry import PIPELINE_STEPS

from .base_step import PipelineStep, SummaryRow
from .file_digest import InputFiles
from .map_steps import map_step, mask_files
from .runner import write_json
from .train_steps import TestSegmentor, TrainSegmentor

RESULTS_README = 'README.txt'
RESULTS_CLASSES = 'classes.txt'


@PIPELINE_STEPS.register_module()
class EvaluatePeakIoU(PipelineStep):
    """LID 2020 track 3: the IoU-threshold curve (t = 0..255) of the map files of the ``maps``
    step against the masks, Peak-IoU and Peak-Threshold
    (:func:`wsss_toolbox.evaluation.lid.evaluate_peak_iou`). Writes ``curve.json`` in its
    folder, IoUs in percent (``tools/analysis/lid_curve_figure.py`` draws it)."""
    input_args = ('maps', )
    fingerprint_options = ('maps', 'mask_format', 'reference', 'percentile')

    def __init__(self, name: str, runner, maps: str = 'maps', mask_format: str = 'classes',
                 reference: str = 'max', percentile: float = 90.0, nproc: int = 1) -> None:
        super().__init__(name, runner)
        self.maps, self.mask_format, self.reference = maps, mask_format, reference
        self.percentile, self.nproc = percentile, nproc

    def input_files(self) -> InputFiles:
        return mask_files(map_step(self, 'maps').samples()[0])

    def run(self) -> Dict[str, Any]:
        source = map_step(self, 'maps')
        samples, _ = source.samples()
        print_log(f'step "{self.name}": IoU-threshold curve of {len(samples)} images',
                  logger='current')
        result = evaluate_peak_iou(samples, source.out_dir, self.mask_format, self.reference,
                                   self.percentile, nproc=self.nproc, progress=True)
        result = dict(result, curve=[float(value) for value in result['curve']],
                      reference=self.reference)
        os.makedirs(self.out_dir, exist_ok=True)
        write_json(osp.join(self.out_dir, 'curve.json'), metrics_in_percent(result))  # percent
        print_log(f'step "{self.name}": Peak-IoU {100 * result["peak_iou"]:.2f} at threshold '
                  f'{result["peak_threshold"]}', logger='current')
        return result

    def outputs_exist(self, result: Optional[dict]) -> bool:
        return bool(result) and osp.isfile(osp.join(self.out_dir, 'curve.json'))

    def summary_rows(self, result: Dict[str, Any]) -> List[SummaryRow]:
        reference = '' if self.reference == 'max' else f', p{self.percentile:g} reference'
        return [SummaryRow(kind='peak_iou', step=self.name,
                           name=f'Peak-IoU @ t={result["peak_threshold"]}{reference}',
                           value=100 * result['peak_iou'],
                           extra=dict(peak_threshold=result['peak_threshold']))]


@PIPELINE_STEPS.register_module()
class TestSegmentorLID(TestSegmentor):
    """:class:`TestSegmentor` with the track-1 leaderboard's three numbers in the summary:
    mIoU, mean accuracy (mAcc) and pixel accuracy (aAcc) of mmseg's ``IoUMetric``."""

    def summary_rows(self, result: Dict[str, Any]) -> List[SummaryRow]:
        metrics = result['metrics']
        rows = [SummaryRow(kind='segmentor', step=self.name, name='segmentor val mIoU',
                           mIoU=float(metrics['mIoU']), extra=dict(labels=result['labels']))]
        for key, title in (('mAcc', 'mean accuracy'), ('aAcc', 'pixel accuracy')):
            rows.append(SummaryRow(kind=f'segmentor_{key}', step=self.name,
                                   name=f'segmentor val {title}', value=float(metrics[key])))
        return rows


@PIPELINE_STEPS.register_module()
class WriteSegmentationResults(PipelineStep):
    """The result files of a test split (LID 2020 track 1): the segmentor of a
    ``TrainSegmentor`` step predicts every image of the dataset ``dataset_key`` of its
    config (default ``test_split``: images only, no masks) and writes one PNG per image,
    ``<img_id>.png``, uint8 single channel, ``0`` = background, ``k + 1`` = foreground class
    ``k`` of the dataset's class list (``classes.txt`` in the folder: one name a line, line
    ``i`` = value ``i``). :func:`read_segmentation_results` reads them back with checks."""
    input_args = ('segmentor', )
    fingerprint_options = ('segmentor', 'dataset_key', 'cfg_options')

    def __init__(self, name: str, runner, segmentor: str = 'stage3',
                 dataset_key: str = 'test_split', cfg_options: Optional[dict] = None) -> None:
        super().__init__(name, runner)
        self.segmentor, self.dataset_key = segmentor, dataset_key
        self.cfg_options = cfg_options or {}

    def dataset_cfg(self) -> dict:
        """The dataset of the result files (``dataset_key`` of the segmentor's config) on
        the pipeline's ``data_root``."""
        segmentor = self.input_step('segmentor', [TrainSegmentor])
        cfg = segmentor.stage_config()
        key = self.dataset_key
        if cfg.get(key) is None:
            raise KeyError(f'step "{self.name}": the config {segmentor.config} has '
                           f'no `{key}` (the dataset of the result files).')
        dataset = dict(cfg[key])
        data_root = self.runner.cfg.get('data_root')
        if data_root is not None:
            dataset['data_root'] = data_root
        return dataset

    def input_files(self) -> InputFiles:
        return self.runner.dataset_files(self.dataset_cfg())

    def run(self) -> Dict[str, Any]:
        segmentor = self.input_step('segmentor', [TrainSegmentor])
        cfg = segmentor.stage_config().copy()
        dataset = self.dataset_cfg()
        cfg.test_dataloader = dict(cfg.test_dataloader, dataset=dataset)
        cfg.test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'], format_only=True,
                                  output_dir=osp.abspath(self.out_dir))
        if self.cfg_options:
            cfg.merge_from_dict(dict(self.cfg_options))
        cfg.work_dir = osp.join(self.out_dir, '.log')
        cfg.load_from, cfg.resume = segmentor.checkpoint(), False
        if cfg.get('visualizer') is not None:
            cfg.visualizer['name'] = f'{self.name}_visualizer'
        os.makedirs(self.out_dir, exist_ok=True)
        runner = Runner.from_cfg(cfg)
        runner.test()
        classes = list(runner.test_dataloader.dataset.metainfo['classes'])
        with open(osp.join(self.out_dir, RESULTS_CLASSES), 'w') as f:
            f.writelines(f'{name}\n' for name in classes)
        with open(osp.join(self.out_dir, RESULTS_README), 'w') as f:
            f.write('One PNG per test image, <img_id>.png: uint8, single channel, the class '
                    f'index of each pixel; value i = line i + 1 of {RESULTS_CLASSES} '
                    '(0 = background, k + 1 = foreground class k of the dataset).\n')
        dataset = runner.test_dataloader.dataset
        img_ids = [osp.splitext(osp.basename(dataset.get_data_info(index)['img_path']))[0]
                   for index in range(len(dataset))]
        read_segmentation_results(self.out_dir, img_ids, len(classes))
        return dict(num_files=len(img_ids), num_classes=len(classes),
                    checkpoint=segmentor.checkpoint())

    def outputs_exist(self, result: Optional[dict]) -> bool:
        return bool(result) and osp.isfile(osp.join(self.out_dir, RESULTS_CLASSES))

    def summary_rows(self, result: Dict[str, Any]) -> List[SummaryRow]:
        return [SummaryRow(kind='result_files', step=self.name,
                           name=f'{result["num_files"]} result files ({self.name}/)')]


def read_segmentation_results(folder: str, img_ids: List[str], num_classes: int) -> Dict:
    """``{img_id: uint8 HxW}`` of a result folder, checked: one PNG per image, single
    channel, values below ``num_classes``; an error names the file."""
    results = {}
    for img_id in img_ids:
        path = osp.join(folder, f'{img_id}.png')
        if not osp.isfile(path):
            raise FileNotFoundError(f'result file {path} is missing')
        mask = mmcv.imread(path, flag='unchanged', backend='pillow')
        if mask.ndim != 2 or mask.dtype != np.uint8:
            raise ValueError(f'{path}: expected a single-channel uint8 PNG, got shape '
                             f'{mask.shape} {mask.dtype}')
        if mask.size and int(mask.max()) >= num_classes:
            raise ValueError(f'{path}: value {int(mask.max())} is not a class index '
                             f'(0..{num_classes - 1})')
        results[img_id] = mask
    return results
