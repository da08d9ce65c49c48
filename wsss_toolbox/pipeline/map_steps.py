"""The map steps of the pipeline: localization maps of a trained classifier (stage 2a) and
their evaluation, with the helpers every step that reads map files shares."""
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log

from wsss_toolbox.engine.checkpoint import load_model_checkpoint
from wsss_toolbox.evaluation import evaluate_maps, map_precision_recall
from wsss_toolbox.maps.inference import AGGREGATIONS, infer_maps
from wsss_toolbox.maps.io import check_map_dtype, map_path
from wsss_toolbox.registry import MODELS, PIPELINE_STEPS
from wsss_toolbox.utils import check_choice

from .base_step import PipelineStep, SummaryRow, missing_image_files
from .file_digest import InputFiles
from .train_steps import TrainStep

__all__ = ['InferMaps', 'EvaluateMaps', 'map_step', 'mask_files', 'missing_image_files',
           'percent']


@PIPELINE_STEPS.register_module()
class InferMaps(PipelineStep):
    """Stage 2a: localization maps of one split's images with test-time augmentation.

    Args:
        classifier: the ``TrainClassifier`` step whose last checkpoint is used (kept as
            :attr:`classifier_name`; :meth:`classifier` gives the step).
        split: ``'train'`` (the classifier config's ``train_dataloader`` dataset) or ``'val'``.
        scales, flip, fusion: test-time augmentation;
        aggregation: ``'image_grid'`` or ``'feature_grid'`` (IRN/RPNet's make_cam), see
            :func:`wsss_toolbox.maps.inference.infer_maps`;
        partners, num_partners, rounds, partner_seed: partner images for cross-image heads
            (listed or drawn among images sharing a class, averaged over ``rounds``);
        stride: also store maps at this stride (IRN's random walk works at 4).
        amp: run the classifier in mixed precision (bfloat16 on the CPU, float16 on a GPU;
            maps within about 1 % of the float32 ones, ``docs/benchmarks.md``).
        channels_last: run the classifier's convolutions in the channels-last memory format
            (pays with ``amp`` on the CPU).
        map_dtype: ``'float16'`` (default) or ``'uint8'``: 8-bit map files, about half the
            size (:func:`wsss_toolbox.maps.io.save_maps`). The result's ``bytes_per_image``
            is the mean map-file size.
            Every option left ``None`` takes the classifier config's ``map_inference`` entry,
            then the defaults of :func:`wsss_toolbox.maps.inference.infer_maps`.
    """
    input_args = ('classifier', )
    # and the resolved inference options (:meth:`inference_options`)
    fingerprint_options = ('split', )
    option_attributes = dict(classifier='classifier_name')
    per_image_outputs = True
    inference_args = ('scales', 'flip', 'fusion', 'partners', 'num_partners', 'rounds',
                      'partner_seed', 'stride', 'amp', 'channels_last', 'aggregation',
                      'map_dtype')
    # the classifier config's entry that gives the defaults of the inference options
    inference_config_key = 'map_inference'
    #: inference options that may name a list file (read whole: its contents are hashed)
    list_file_options = ('partners', )

    def __init__(self, name: str, runner, classifier: str = 'stage1', split: str = 'train',
                 scales: Optional[Sequence[float]] = None, flip: Optional[bool] = None,
                 fusion: Optional[str] = None, partners: Optional[Any] = None,
                 num_partners: Optional[int] = None, rounds: Optional[int] = None,
                 partner_seed: Optional[int] = None, stride: Optional[int] = None,
                 amp: Optional[bool] = None, channels_last: Optional[bool] = None,
                 aggregation: Optional[str] = None, map_dtype: Optional[str] = None) -> None:
        check_split(name, split)
        if aggregation is not None:
            check_choice(f'step {name}: aggregation', aggregation, AGGREGATIONS)
        if map_dtype is not None:
            check_map_dtype(map_dtype, f'step {name}: map_dtype')
        super().__init__(name, runner)
        self.classifier_name, self.split = classifier, split
        self.scales, self.flip, self.fusion = scales, flip, fusion
        self.partners, self.num_partners = partners, num_partners
        self.rounds, self.partner_seed = rounds, partner_seed
        self.stride, self.amp, self.channels_last = stride, amp, channels_last
        self.aggregation, self.map_dtype = aggregation, map_dtype

    def classifier(self) -> TrainStep:
        return self.input_step('classifier', [TrainStep])

    def inference_options(self) -> Dict[str, Any]:
        options = dict(self.classifier().stage_config().get(self.inference_config_key, {}))
        options.update({key: getattr(self, key) for key in self.inference_args
                        if getattr(self, key) is not None})
        return options

    def fingerprint_config(self) -> Any:
        return dict(super().fingerprint_config(), **self.inference_options())

    def samples(self) -> Tuple[List[dict], List[str]]:
        loader = 'train_dataloader' if self.split == 'train' else 'val_dataloader'
        return self.runner.dataset_samples(self.classifier().stage_config()[loader]['dataset'])

    def build_model(self) -> Any:
        """The classifier step's model with its last checkpoint loaded (strictly)."""
        classifier = self.classifier()
        model = MODELS.build(classifier.stage_config().model)
        load_model_checkpoint(model, classifier.checkpoint(),
                              what=f'the model of {classifier.config}')
        return model

    def run(self) -> Dict[str, Any]:
        model = self.build_model()
        samples, _ = self.samples()
        print_log(f'step "{self.name}": inferring maps of {len(samples)} '
                  f'{self.split} images', logger='current')
        with torch.no_grad():
            counts = infer_maps(model, samples, self.out_dir, **self.inference_options())
        return dict(counts, split=self.split)

    def input_files(self) -> InputFiles:
        options = self.inference_options()
        return InputFiles(annotations=[options[key] for key in self.list_file_options
                                       if isinstance(options.get(key), str)])

    def image_outputs(self, img_id: str) -> List[str]:
        return [map_path(self.out_dir, img_id)]

    def image_inputs(self, sample: dict) -> InputFiles:
        return InputFiles(required=[sample['img_path']])

    def images_depend_on_each_other(self) -> bool:
        options = self.inference_options()  # partner images join each image's forward
        return bool(options.get('partners')) or bool(options.get('num_partners'))


def check_split(name: str, split: str) -> None:
    """A map step's ``split``: ``'train'`` or ``'val'``."""
    if split not in ('train', 'val'):
        raise ValueError(f"step {name}: split must be 'train' or 'val', got {split!r}")


def map_step(step: PipelineStep, arg: str) -> PipelineStep:
    """The step named by ``arg`` that holds map files (any step with ``samples()`` whose
    folder holds ``<img_id>.npz``, e.g. ``InferMaps`` or a method's map step)."""
    return step.input_step(arg)


def mask_files(samples: Sequence[dict]) -> InputFiles:
    """The ground-truth masks of ``samples`` (the files an evaluation reads besides maps)."""
    return InputFiles(optional=[sample['seg_map_path'] for sample in samples
                                if sample.get('seg_map_path')])


def percent(value: Optional[float]) -> Optional[float]:
    """A fraction in percent (None stays None)."""
    return None if value is None else 100 * float(value)


@PIPELINE_STEPS.register_module()
class EvaluateMaps(PipelineStep):
    """Map quality against the ground-truth masks: mIoU over background thresholds, and
    recall / precision of the maps binarised at ``ratio`` of their maximum (OAA Table 11)."""
    input_args = ('maps', )
    fingerprint_options = ('maps', 'thresholds', 'ratio')
    writes_folder = False

    def __init__(self, name: str, runner, maps: str = 'maps',
                 thresholds: Optional[Sequence[float]] = None, ratio: float = 0.5,
                 nproc: int = 1) -> None:
        super().__init__(name, runner)
        self.maps, self.thresholds, self.ratio, self.nproc = maps, thresholds, ratio, nproc

    def input_files(self) -> InputFiles:
        return mask_files(map_step(self, 'maps').samples()[0])

    def run(self) -> Dict[str, Any]:
        source = map_step(self, 'maps')
        samples, classes = source.samples()
        names = ['background'] + classes
        options = {} if self.thresholds is None else dict(thresholds=self.thresholds)
        print_log(f'step "{self.name}": evaluating the maps of {len(samples)} images',
                  logger='current')
        sweep = evaluate_maps(samples, source.out_dir, len(names), class_names=names,
                              nproc=self.nproc, progress=True, **options)
        return dict(
            threshold_sweep=sweep, warnings=sweep['warnings'],
            precision_recall=map_precision_recall(samples, source.out_dir, len(names),
                                                  ratio=self.ratio, nproc=self.nproc,
                                                  progress=True))

    def summary_rows(self, result: Dict[str, Any]) -> List[SummaryRow]:
        sweep, pr = result['threshold_sweep'], result['precision_recall']
        ratio = int(round(100 * self.ratio))
        return [
            SummaryRow(kind='maps', step=self.name,
                       name=f"maps (best bg threshold {sweep['best_threshold']:.2f})",
                       mIoU=percent(sweep['best_metrics']['mIoU']),
                       extra=dict(best_threshold=sweep['best_threshold'])),
            SummaryRow(kind='maps_recall', step=self.name,
                       name=f'maps recall @{ratio}% max', value=percent(pr['recall'])),
            SummaryRow(kind='maps_precision', step=self.name,
                       name=f'maps precision @{ratio}% max', value=percent(pr['precision'])),
        ]
