"""The core pipeline steps: train a classifier, infer / evaluate maps, make and refine pseudo
labels, train and test a segmentor, summarise. Methods add their own steps the same way
(``PIPELINE_STEPS.register_module()``), in their folder or in a plugin.

(Over 400 lines: the core steps form one chain whose result records later steps read; they are
kept in one file until their options become declared attributes, when training, map, label
and summary steps split into modules of their own.)"""
import copy
import logging
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import Runner

# the latest checkpoint of a work dir, looked up inside it (shared with tools/train.py)
from wsss_toolbox.engine.checkpoint import latest_checkpoint_in, load_model_checkpoint
from wsss_toolbox.evaluation import evaluate_labels, evaluate_maps, map_precision_recall
from wsss_toolbox.evaluation.lid import format_parameter_rule, parameter_rule
from wsss_toolbox.maps.inference import AGGREGATIONS, infer_maps
from wsss_toolbox.maps.io import check_map_dtype, map_path
from wsss_toolbox.pseudo_labels import generate_pseudo_labels
from wsss_toolbox.pseudo_labels.label_io import IGNORE_INDEX, label_path, load_label
from wsss_toolbox.registry import MODELS, PIPELINE_STEPS
from wsss_toolbox.utils import check_choice
from wsss_toolbox.visualization import save_pipeline_figure

from .base_step import PipelineStep
from .file_digest import InputFiles
from .runner import write_json


class TrainStep(PipelineStep):
    """Shared by the training steps: an mmengine config trained in ``<work_dir>/<name>/``,
    resumed from its latest checkpoint when an interrupted run left one."""

    def __init__(self, name: str, runner, config: str, cfg_options: Optional[dict] = None,
                 input_dirs: Optional[Dict[str, str]] = None) -> None:
        super().__init__(name, runner, config=config, cfg_options=cfg_options or {},
                         input_dirs=input_dirs or {})
        self._cfg: Optional[Config] = None

    def inputs(self) -> List[str]:
        names = super().inputs()
        return names + [name for name in self.options['input_dirs'].values()
                        if name not in names]

    def stage_config(self) -> Config:
        """The resolved stage config (``_base_`` merged, options applied)."""
        if self._cfg is None:
            options = dict(self.options['cfg_options'])
            # ``input_dirs``: config key -> the folder of an earlier step (e.g. OAA+'s soft
            # labels come from the maps an OAA step exported)
            for key, step_name in self.options['input_dirs'].items():
                options[key] = self.runner.step(step_name).out_dir
            self._cfg = self.runner.stage_config(self.options['config'], options, self.name)
        return self._cfg

    def fingerprint_config(self) -> Any:
        return dict(self.stage_config().to_dict(), input_dirs=self.options['input_dirs'])

    def input_files(self) -> InputFiles:
        """Its training set: images, masks, saliency maps, pseudo labels ... and each
        image's record (what the list / label files say of it). A change retrains."""
        return self.runner.dataset_files(self.stage_config().train_dataloader.dataset)

    def config_to_train(self) -> Config:
        """A copy of the stage config; a step with an ``init_backbone_from`` option (a
        ``TrainClassifier`` step) starts its backbone from that step's last checkpoint."""
        cfg = self.stage_config().copy()
        if self.options.get('init_backbone_from') is not None:
            classifier = self.input_step('init_backbone_from', [TrainClassifier])
            cfg.model.backbone['init_cfg'] = dict(
                type='Pretrained', checkpoint=classifier.checkpoint(), prefix='backbone.')
        return cfg

    def train(self, cfg: Optional[Config] = None) -> Runner:
        """Train ``cfg`` (default: the stage config), resuming an interrupted run."""
        cfg = (cfg or self.stage_config()).copy()
        checkpoint = latest_checkpoint_in(cfg.work_dir) if osp.isdir(cfg.work_dir) else None
        if checkpoint is not None:
            cfg.resume, cfg.load_from = True, checkpoint
        runner = Runner.from_cfg(cfg)
        runner.train()
        return runner

    def checkpoint(self) -> str:
        """Absolute path of the checkpoint this step finished with."""
        path = osp.join(self.out_dir, self.runner.result(self.name)['checkpoint'])
        if not osp.isfile(path):
            raise FileNotFoundError(f'step "{self.name}" finished with {path}, which no longer '
                                    'exists; rerun the step (--force) or restore the file.')
        return path

    def outputs_exist(self, result: Optional[dict]) -> bool:
        return bool(result) and osp.isfile(osp.join(self.out_dir, result['checkpoint']))

    def _finished(self) -> Dict[str, Any]:
        checkpoint = latest_checkpoint_in(self.out_dir)
        if checkpoint is None:
            raise RuntimeError(f'step "{self.name}" trained but left no checkpoint in '
                               f'{self.out_dir}; keep the CheckpointHook in its config.')
        return dict(checkpoint=osp.basename(checkpoint))


@PIPELINE_STEPS.register_module()
class TrainClassifier(TrainStep):
    """Stage 1: train a classifier (``config``: its train config, ``cfg_options``: overrides;
    ``input_dirs``: ``{config key: step name}`` -- the config key is set to that step's folder).
    Result: ``checkpoint`` (file name in the step's folder)."""

    def run(self) -> Dict[str, Any]:
        self.train()
        return self._finished()


@PIPELINE_STEPS.register_module()
class InferMaps(PipelineStep):
    """Stage 2a: localization maps of one split's images with test-time augmentation.

    Args:
        classifier: the ``TrainClassifier`` step whose last checkpoint is used.
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
        if split not in ('train', 'val'):
            raise ValueError(f"step {name}: split must be 'train' or 'val', got {split!r}")
        if aggregation is not None:
            check_choice(f'step {name}: aggregation', aggregation, AGGREGATIONS)
        if map_dtype is not None:
            check_map_dtype(map_dtype, f'step {name}: map_dtype')
        super().__init__(name, runner, classifier=classifier, split=split, scales=scales,
                         flip=flip, fusion=fusion, partners=partners, num_partners=num_partners,
                         rounds=rounds, partner_seed=partner_seed, stride=stride, amp=amp,
                         channels_last=channels_last, aggregation=aggregation,
                         map_dtype=map_dtype)

    def classifier(self) -> TrainStep:
        return self.input_step('classifier', [TrainStep])

    def inference_options(self) -> Dict[str, Any]:
        options = dict(self.classifier().stage_config().get(self.inference_config_key, {}))
        options.update({key: self.options[key] for key in self.inference_args
                        if self.options[key] is not None})
        return options

    def fingerprint_config(self) -> Any:
        return dict(split=self.options['split'], **self.inference_options())

    def samples(self) -> Tuple[List[dict], List[str]]:
        loader = 'train_dataloader' if self.options['split'] == 'train' else 'val_dataloader'
        return self.runner.dataset_samples(self.classifier().stage_config()[loader]['dataset'])

    def build_model(self) -> Any:
        """The classifier step's model with its last checkpoint loaded (strictly)."""
        classifier = self.classifier()
        model = MODELS.build(classifier.stage_config().model)
        load_model_checkpoint(model, classifier.checkpoint(),
                              what=f'the model of {classifier.options["config"]}')
        return model

    def run(self) -> Dict[str, Any]:
        model = self.build_model()
        samples, _ = self.samples()
        print_log(f'step "{self.name}": inferring maps of {len(samples)} '
                  f"{self.options['split']} images", logger='current')
        with torch.no_grad():
            counts = infer_maps(model, samples, self.out_dir, **self.inference_options())
        return dict(counts, split=self.options['split'])

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


def missing_image_files(step: PipelineStep, path_of, what: str) -> Optional[str]:
    """Why a per-image step must rerun: images of its current list (``step.samples()``)
    without their file in its folder (``path_of(folder, img_id)``), e.g. images that had no
    positive label when it ran and have one now; None when every image has its file."""
    samples, _ = step.samples()
    missing = [sample['img_id'] for sample in samples
               if not osp.isfile(path_of(step.out_dir, sample['img_id']))]
    if not missing:
        return None
    return (f'{len(missing)} of {len(samples)} images have no {what} in {step.out_dir} (e.g. '
            f'"{missing[0]}"): the image list changed since it ran')


def map_step(step: PipelineStep, arg: str) -> PipelineStep:
    """The step named by ``arg`` that holds map files (any step with ``samples()`` whose
    folder holds ``<img_id>.npz``, e.g. ``InferMaps`` or a method's map step)."""
    return step.runner.step(step.options[arg])


@PIPELINE_STEPS.register_module()
class EvaluateMaps(PipelineStep):
    """Map quality against the ground-truth masks: mIoU over background thresholds, and
    recall / precision of the maps binarised at ``ratio`` of their maximum (OAA Table 11)."""
    input_args = ('maps', )
    writes_folder = False

    def __init__(self, name: str, runner, maps: str = 'maps',
                 thresholds: Optional[Sequence[float]] = None, ratio: float = 0.5,
                 nproc: int = 1) -> None:
        super().__init__(name, runner, maps=maps, thresholds=thresholds, ratio=ratio,
                         nproc=nproc)

    def input_files(self) -> InputFiles:
        return mask_files(map_step(self, 'maps').samples()[0])

    def run(self) -> Dict[str, Any]:
        source = map_step(self, 'maps')
        samples, classes = source.samples()
        names = ['background'] + classes
        options = {} if self.options['thresholds'] is None else dict(
            thresholds=self.options['thresholds'])
        print_log(f'step "{self.name}": evaluating the maps of {len(samples)} images',
                  logger='current')
        sweep = evaluate_maps(samples, source.out_dir, len(names), class_names=names,
                              nproc=self.options['nproc'], progress=True, **options)
        return dict(
            threshold_sweep=sweep, warnings=sweep['warnings'],
            precision_recall=map_precision_recall(samples, source.out_dir, len(names),
                                                  ratio=self.options['ratio'],
                                                  nproc=self.options['nproc'],
                                                  progress=True))

    def summary_rows(self, result: Dict[str, Any]) -> List[Dict[str, Any]]:
        sweep, pr = result['threshold_sweep'], result['precision_recall']
        percent = int(round(100 * self.options['ratio']))
        return [
            dict(kind='maps', step=self.name, value=None,
                 name=f"maps (best bg threshold {sweep['best_threshold']:.2f})",
                 mIoU=_percent(sweep['best_metrics']['mIoU']),
                 best_threshold=sweep['best_threshold']),
            dict(kind='maps_recall', step=self.name, mIoU=None,
                 name=f'maps recall @{percent}% max', value=_percent(pr['recall'])),
            dict(kind='maps_precision', step=self.name, mIoU=None,
                 name=f'maps precision @{percent}% max', value=_percent(pr['precision'])),
        ]


def mask_files(samples: Sequence[dict]) -> InputFiles:
    """The ground-truth masks of ``samples`` (the files an evaluation reads besides maps)."""
    return InputFiles(optional=[sample['seg_map_path'] for sample in samples
                                if sample.get('seg_map_path')])


def label_image_inputs(step: PipelineStep, sample: dict, map_dir: str) -> InputFiles:
    """What a pseudo label is made from: the image's map file, the image, its saliency map,
    and its mask when the step evaluates the labels."""
    optional = [sample.get('saliency_path')]
    if step.options.get('evaluate', True):
        optional.append(sample.get('seg_map_path'))
    return InputFiles(required=[map_path(map_dir, sample['img_id']), sample['img_path']],
                      optional=[path for path in optional if path])


def folder_ignored_fraction(folder: str, samples: Sequence[dict]) -> float:
    """The ignored (255) fraction of the pixels of every sample's label in ``folder`` (a
    resumed or per-image run writes only some of them)."""
    ignored = pixels = 0
    for sample in samples:
        label = load_label(label_path(folder, sample['img_id']))
        ignored += int((label == IGNORE_INDEX).sum())
        pixels += label.size
    return ignored / pixels if pixels else 0.0


def _percent(value: Optional[float]) -> Optional[float]:
    return None if value is None else 100 * float(value)


class LabelFolderStep(PipelineStep):
    """A step whose output is a folder of pseudo-label PNGs, one per image of
    :meth:`samples`: evaluated against the ground truth like every label folder, its summary row
    and its missing-file check shared (MakePseudoLabels, IRN's RandomWalkLabels ...)."""
    summary_label = ''
    per_image_outputs = True

    def image_outputs(self, img_id: str) -> List[str]:
        return [label_path(self.out_dir, img_id)]

    def evaluate_folder(self, samples: List[dict], classes: List[str],
                        nproc: int = 1) -> Optional[Dict[str, Any]]:
        """The label metrics of the folder when ``evaluate`` is on and every image has a
        mask, else None."""
        if not (self.options.get('evaluate', True)
                and all(s.get('seg_map_path') for s in samples)):
            return None
        names = ['background'] + list(classes)
        return evaluate_labels(samples, self.out_dir, len(names), class_names=names,
                               nproc=nproc)

    def summary_rows(self, result: Dict[str, Any]) -> List[Dict[str, Any]]:
        if 'eval' not in result:
            return []
        name = f'{self.name} ({self.summary_label})' if self.summary_label else self.name
        return [dict(kind='labels', step=self.name, name=name,
                     mIoU=_percent(result['eval']['metrics']['mIoU']),
                     ignored=_percent(result['eval']['ignored_fraction']), value=None)]


@PIPELINE_STEPS.register_module()
class MakePseudoLabels(LabelFolderStep):
    """Stage 2b: a label generator (``LABEL_GENERATORS``) and optional refiners turn the map
    files of the ``maps`` step into pseudo-label PNGs; evaluated against the ground truth when
    every image has a mask (``evaluate=True``)."""
    input_args = ('maps', )

    def __init__(self, name: str, runner, generator: dict, maps: str = 'maps',
                 refiners: Sequence[dict] = (), evaluate: bool = True, nproc: int = 1) -> None:
        super().__init__(name, runner, maps=maps, generator=generator,
                         refiners=list(refiners), evaluate=evaluate, nproc=nproc)

    def map_dir(self) -> str:
        return map_step(self, 'maps').out_dir

    def label_recipe(self) -> Tuple[dict, List[dict], str]:
        """``(generator, refiners, map dir)`` that make this step's labels from map files."""
        return self.options['generator'], list(self.options['refiners']), self.map_dir()

    def samples(self) -> Tuple[List[dict], List[str]]:
        return map_step(self, 'maps').samples()

    def image_inputs(self, sample: dict) -> InputFiles:
        return label_image_inputs(self, sample, self.label_recipe()[2])

    def run(self) -> Dict[str, Any]:
        generator, refiners, map_dir = self.label_recipe()
        samples, classes = self.samples()
        print_log(f'step "{self.name}": pseudo labels of {len(samples)} images',
                  logger='current')
        nproc = self.options['nproc']
        summary = generate_pseudo_labels(samples, map_dir, self.out_dir, generator, refiners,
                                         nproc=nproc)
        result = dict(ignored_fraction=summary['ignored_fraction'] if not summary['num_skipped']
                      else folder_ignored_fraction(self.out_dir, samples))
        metrics = self.evaluate_folder(samples, classes, nproc)
        if metrics is not None:
            result['eval'] = metrics
        return result


@PIPELINE_STEPS.register_module()
class RefineLabels(MakePseudoLabels):
    """Refine the labels of an earlier label step (e.g. DenseCRF): the earlier step's
    generator and refiners, then ``refiners``, applied to the same maps (the generator is
    cheap and deterministic, so its labels are remade rather than read back)."""
    input_args = ('labels', )

    def __init__(self, name: str, runner, refiners: Sequence[dict], labels: str = 'pseudo_labels',
                 evaluate: bool = True, nproc: int = 1) -> None:
        PipelineStep.__init__(self, name, runner, labels=labels, refiners=list(refiners),
                              evaluate=evaluate, nproc=nproc)

    def _source(self) -> MakePseudoLabels:
        return self.input_step('labels', [MakePseudoLabels])

    def label_recipe(self) -> Tuple[dict, List[dict], str]:
        generator, refiners, map_dir = self._source().label_recipe()
        return generator, refiners + list(self.options['refiners']), map_dir

    def fingerprint_config(self) -> Any:
        generator, refiners, _ = self.label_recipe()
        return dict(self.options, generator=generator, chain=refiners)

    def samples(self) -> Tuple[List[dict], List[str]]:
        return self._source().samples()


@PIPELINE_STEPS.register_module()
class TrainSegmentor(TrainStep):
    """Stage 3: train an mmseg segmentor on the pseudo labels of the ``labels`` step.

    ``init_backbone_from``: a ``TrainClassifier`` step whose backbone initialises the
    segmentor's (same architecture needed) -- a stand-in for ImageNet weights where there are
    none (the synthetic demo)."""
    input_args = ('labels', 'init_backbone_from')

    def __init__(self, name: str, runner, config: str, labels: str,
                 cfg_options: Optional[dict] = None, init_backbone_from: Optional[str] = None,
                 input_dirs: Optional[Dict[str, str]] = None) -> None:
        super().__init__(name, runner, config, cfg_options, input_dirs)
        self.options.update(labels=labels, init_backbone_from=init_backbone_from)

    def stage_config(self) -> Config:
        if self._cfg is None:
            super().stage_config().train_dataloader.dataset['pseudo_label_dir'] = \
                self.runner.step(self.options['labels']).out_dir
        return self._cfg

    def fingerprint_config(self) -> Any:
        # the label folder and the backbone's checkpoint are inputs (their run ids), not paths
        cfg = self.stage_config().to_dict()
        cfg['train_dataloader']['dataset'].pop('pseudo_label_dir', None)
        return dict(cfg, input_dirs=self.options['input_dirs'],
                    init_backbone_from=self.options['init_backbone_from'])

    def run(self) -> Dict[str, Any]:
        self.train(self.config_to_train())
        return dict(self._finished(), labels=self.options['labels'])


@PIPELINE_STEPS.register_module()
class TestSegmentor(PipelineStep):
    """Evaluate the checkpoint of a ``TrainSegmentor`` step on its config's test split with
    mmengine's test loop (metrics as mmseg's ``IoUMetric``)."""
    input_args = ('segmentor', )

    def __init__(self, name: str, runner, segmentor: str = 'stage3',
                 cfg_options: Optional[dict] = None) -> None:
        super().__init__(name, runner, segmentor=segmentor, cfg_options=cfg_options or {})

    def test_config(self) -> Config:
        """The segmentor step's config with this step's ``cfg_options``."""
        cfg = self.input_step('segmentor', [TrainSegmentor]).stage_config().copy()
        if self.options['cfg_options']:
            cfg.merge_from_dict(dict(self.options['cfg_options']))
        return cfg

    def input_files(self) -> InputFiles:
        """Its test set: images, masks and each image's record."""
        return self.runner.dataset_files(self.test_config().test_dataloader.dataset)

    def run(self) -> Dict[str, Any]:
        segmentor = self.input_step('segmentor', [TrainSegmentor])
        cfg = self.test_config()
        cfg.work_dir = self.out_dir
        cfg.load_from, cfg.resume = segmentor.checkpoint(), False
        if cfg.get('visualizer') is not None:
            cfg.visualizer['name'] = f'{self.name}_visualizer'
        os.makedirs(self.out_dir, exist_ok=True)
        metrics = Runner.from_cfg(cfg).test()
        return dict(metrics={key: float(value) for key, value in metrics.items()},
                    checkpoint=segmentor.checkpoint(), labels=segmentor.options['labels'])

    def summary_rows(self, result: Dict[str, Any]) -> List[Dict[str, Any]]:
        return [dict(kind='segmentor', step=self.name, name='DeepLab val',
                     mIoU=float(result['metrics']['mIoU']), value=None,
                     labels=result['labels'])]


@PIPELINE_STEPS.register_module()
class Summarize(PipelineStep):
    """The result table of the pipeline: the rows of every earlier step (``steps``; default
    all), printed and written to ``<work_dir>/summary.json``; with ``figure`` also a figure
    ``<work_dir>/figure.png`` (image / ground truth / map / each label folder) of the first
    ``num_images`` images of ``figure['maps']`` and the label steps ``figure['labels']``.

    The parameters of the inference model (``inference_model``: a training step; default the
    last one of ``steps``) are counted, built from its config without weights, and checked
    against the LID 2020 rule (< ``parameter_limit``): printed and in ``summary.json``
    (``inference_model``)."""
    writes_folder = False

    def __init__(self, name: str, runner, steps: Optional[Sequence[str]] = None,
                 figure: Optional[dict] = None, inference_model: Optional[str] = None,
                 parameter_limit: int = 150_000_000) -> None:
        if steps is None:
            steps = runner.names[:runner.names.index(name)]
        super().__init__(name, runner, steps=list(steps), figure=figure,
                         inference_model=inference_model, parameter_limit=parameter_limit)

    def inference_model_report(self) -> Optional[Dict[str, Any]]:
        """``dict(step, config, parameters, limit, within_limit)`` of the inference model, or
        None when the pipeline has no training step."""
        name = self.options['inference_model']
        if name is None:
            trained = [step for step in self.options['steps']
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
        report = parameter_rule(MODELS.build(model_cfg), self.options['parameter_limit'])
        return dict(report, step=name, config=step.options['config'])

    def input_files(self) -> InputFiles:
        """The images and masks its figure shows."""
        figure = self.options['figure']
        if not figure:
            return InputFiles()
        samples, _ = self.runner.step(figure['maps']).samples()
        return InputFiles.of_records(samples[:figure.get('num_images', 4)])

    def inputs(self) -> List[str]:
        figure = self.options['figure'] or {}
        extra = [figure.get('maps')] + list(figure.get('labels', []))
        return self.options['steps'] + [s for s in extra if s and s not in self.options['steps']]

    def run(self) -> Dict[str, Any]:
        rows = []
        for name in self.options['steps']:
            rows.extend(self.runner.step(name).summary_rows(self.runner.result(name)))
        # a step's result may hold ``warnings`` (degenerate maps, ...): listed after the table
        warnings = [f'step "{name}": {message}' for name in self.options['steps']
                    for message in self.runner.result(name).get('warnings') or []]
        summary = dict(rows=rows, warnings=warnings,
                       steps={name: self.runner.result(name) for name in self.options['steps']})
        parameters = self.inference_model_report()
        if parameters is not None:
            summary['inference_model'] = parameters
        write_json(self.runner.path('summary.json'), summary)
        print_log('\n' + format_table(rows), logger='current')
        if warnings:
            print_log(format_warnings(warnings), logger='current', level=logging.WARNING)
        if parameters is not None:
            print_log(format_parameter_rule(
                parameters, f'inference model (step "{parameters["step"]}")'),
                logger='current')
        figure = self.options['figure']
        if figure:
            maps = self.runner.step(figure['maps'])
            samples, classes = maps.samples()
            path = save_pipeline_figure(
                samples[:figure.get('num_images', 4)], maps.out_dir,
                [self.runner.step(name).out_dir for name in figure.get('labels', [])],
                len(classes) + 1, self.runner.path('figure.png'),
                dataset_meta=dict(classes=classes))
            print_log(f'figure: {path}', logger='current')
        return dict(rows=rows, warnings=warnings, inference_model=parameters)

    def outputs_exist(self, result: Optional[dict]) -> bool:
        return osp.isfile(self.runner.path('summary.json'))


def format_table(rows: Sequence[Dict[str, Any]]) -> str:
    """The summary rows as a text table (missing values left blank)."""
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
