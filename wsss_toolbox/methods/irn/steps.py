"""IRN's pipeline steps, inserted between a map step (maps at stride 4) and stage 3:

* ``IRNSeeds`` -- the seed labels (confident foreground / background + DenseCRF, ignore zone)
  of every image of a map step (a ``MakePseudoLabels`` step with IRN's seed generator);
* ``TrainAffinityNet`` -- trains the boundary network on the seeds with mmengine's Runner;
* ``RandomWalkLabels`` -- boundary maps, random walk of the strided maps, label PNGs at image
  size; evaluated like every other label folder, read by ``TrainSegmentor`` like them.
"""
import copy
import dataclasses
import os
import os.path as osp
import time
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.logging import print_log

from wsss_toolbox.engine.checkpoint import load_model_checkpoint
from wsss_toolbox.pipeline import MakePseudoLabels, SummaryRow, TrainStep
from wsss_toolbox.pipeline.file_digest import InputFiles
from wsss_toolbox.pipeline.label_steps import (
    LabelFolderStep,
    folder_ignored_fraction,
    label_image_inputs,
)
from wsss_toolbox.pipeline.map_steps import map_step
from wsss_toolbox.pseudo_labels.label_io import (
    IGNORE_INDEX,
    label_path,
    load_label,
    load_rgb_image,
    save_label,
    write_labelled_images,
)
from wsss_toolbox.registry import MODELS, PIPELINE_STEPS
from wsss_toolbox.utils import check_choice

from .affinity import PATH_RULES
from .inference import load_strided_maps, refine_sample
from .seeds import has_confident_foreground

#: at most this many image ids are named in the no-confident-foreground warning
_NAMED_IN_WARNING = 20


@PIPELINE_STEPS.register_module()
class IRNSeeds(MakePseudoLabels):
    """IRN seed labels of the images of the ``maps`` step (``IRNSeedLabelGenerator``;
    ``generator`` overrides its options). Images whose seed has no confident foreground
    pixel are named in one warning (their pairs teach only background affinities)."""

    def __init__(self, name: str, runner, maps: str = 'maps', generator: Optional[dict] = None,
                 evaluate: bool = True, nproc: int = 1) -> None:
        # crf_labels written out: the run's fingerprint then tells seeds made with the
        # authors' CRF label set from older ones made with only the labels present
        generator = dict(dict(type='IRNSeedLabelGenerator', crf_labels='image_classes'),
                         **(generator or {}))
        super().__init__(name, runner, generator=generator, maps=maps, evaluate=evaluate,
                         nproc=nproc)

    def run(self) -> Dict[str, Any]:
        result = super().run()
        samples, _ = self.samples()
        empty = [sample['img_id'] for sample in samples
                 if not has_confident_foreground(load_label(label_path(self.out_dir,
                                                                       sample['img_id'])))]
        if empty:
            named = ', '.join(f'"{img_id}"' for img_id in empty[:_NAMED_IN_WARNING])
            more = f' and {len(empty) - _NAMED_IN_WARNING} more' \
                if len(empty) > _NAMED_IN_WARNING else ''
            message = (f'step "{self.name}": {len(empty)} seed label(s) have no confident '
                       f'foreground pixel (no map value above fg_threshold survives the CRF): '
                       f'image {named}{more}; their pairs teach the affinity network only '
                       'background affinities.')
            warnings.warn(message)
            print_log(message, logger='current', level=30)
        result.update(num_without_foreground=len(empty),
                      without_foreground=empty[:_NAMED_IN_WARNING])
        return result

    def summary_rows(self, result: Dict[str, Any]) -> List[SummaryRow]:
        return [dataclasses.replace(row, kind='seeds', name=f'{self.name} (IRN seeds)')
                for row in super().summary_rows(result)]


def seed_transforms(pipeline: Sequence[dict]) -> List[dict]:
    return [transform for transform in pipeline if transform.get('type') == 'LoadSeedLabels']


@PIPELINE_STEPS.register_module()
class TrainAffinityNet(TrainStep):
    """Train IRN's boundary network (an ``AffinityNet`` config) on the seed labels of the
    ``seeds`` step: every ``LoadSeedLabels`` transform of the config's training pipeline
    reads that step's folder. ``init_backbone_from``: a ``TrainClassifier`` step whose
    backbone initialises the (frozen) backbone -- a stand-in for ImageNet weights where there
    are none (the synthetic benchmark). Result: ``checkpoint``, training time and images/s."""
    input_args = ('seeds', 'init_backbone_from')
    # and the resolved stage config; the seed folder is an input (its run id), not a path
    fingerprint_options = ('input_dirs', 'seeds', 'init_backbone_from')

    def __init__(self, name: str, runner, config: str, seeds: str = 'irn_seeds',
                 cfg_options: Optional[dict] = None, init_backbone_from: Optional[str] = None,
                 input_dirs: Optional[Dict[str, str]] = None) -> None:
        super().__init__(name, runner, config, cfg_options, input_dirs)
        self.seeds, self.init_backbone_from = seeds, init_backbone_from

    def stage_config(self) -> Config:
        if self._cfg is None:
            cfg = super().stage_config()
            transforms = seed_transforms(cfg.train_dataloader.dataset.get('pipeline', []))
            if not transforms:
                raise ValueError(
                    f'step "{self.name}": the training pipeline of {self.config} '
                    'has no LoadSeedLabels transform, so the seeds would not be read.')
            for transform in transforms:
                transform['seed_dir'] = self.runner.step(self.seeds).out_dir
        return self._cfg

    def fingerprint_config(self) -> Any:
        config = copy.deepcopy(super().fingerprint_config())
        for transform in seed_transforms(config['train_dataloader']['dataset']['pipeline']):
            transform.pop('seed_dir', None)
        return config

    def run(self) -> Dict[str, Any]:
        cfg = self.config_to_train()
        start = time.perf_counter()
        runner = self.train(cfg)
        seconds = time.perf_counter() - start
        images = len(runner.train_dataloader.dataset) * cfg.train_cfg.get('max_epochs', 1)
        return dict(self._finished(), seeds=self.seeds, seconds=seconds,
                    images_per_second=images / seconds if seconds > 0 else 0.0)


@PIPELINE_STEPS.register_module()
class RandomWalkLabels(LabelFolderStep):
    """Pseudo labels of the images of the ``maps`` step (map files with strided maps) by
    IRN's random walk over the boundary maps of the ``affinity`` step's network.

    Args:
        affinity: the ``TrainAffinityNet`` step.
        maps: the map step (its files need ``strided_maps`` at the network's stride).
        beta, exp_times, radius, bg_threshold: :mod:`.random_walk` (IRN: 10, 8, 5, 0.25).
        power: ``'steps'`` (2^8 sparse products, linear in pixels) or ``'squaring'`` (the
            authors' 8 squarings of the dense matrix; same walk up to float rounding).
        flip: average the boundary logits of the image and of its mirror (the authors').
        path: path rule of the walk's affinities: ``'band'`` (the authors') or ``'line'``
            (:mod:`.affinity`). The boundary map's input padding is the network's
            ``infer_pad_size`` (its config).
        evaluate: score the labels against the ground truth when every image has a mask.
        nproc: processes of that evaluation (the walk itself runs in this process).
        device: ``'cuda'`` / ``'cpu'``; None takes CUDA when available.
    """
    summary_label = 'IRN random walk'
    input_args = ('affinity', 'maps')
    #: the options of the walk itself (:func:`.inference.refine_sample`)
    walk_options = ('beta', 'exp_times', 'radius', 'bg_threshold', 'power', 'flip', 'path')
    fingerprint_options = ('affinity', 'maps') + walk_options + ('evaluate', )

    def __init__(self, name: str, runner, affinity: str = 'irn_train', maps: str = 'maps',
                 beta: float = 10.0, exp_times: int = 8, radius: int = 5,
                 bg_threshold: float = 0.25, power: str = 'steps', flip: bool = True,
                 path: str = 'band', evaluate: bool = True, device: Optional[str] = None,
                 nproc: int = 1) -> None:
        check_choice(f'step {name}: power', power, ('steps', 'squaring'))
        check_choice(f'step {name}: path', path, PATH_RULES)
        super().__init__(name, runner)
        self.affinity, self.maps = affinity, maps
        self.beta, self.exp_times, self.radius = beta, exp_times, radius
        self.bg_threshold, self.power, self.flip, self.path = bg_threshold, power, flip, path
        self.evaluate, self.device, self.nproc = evaluate, device, nproc

    def samples(self) -> Tuple[List[dict], List[str]]:
        return map_step(self, 'maps').samples()

    def image_inputs(self, sample: dict) -> InputFiles:
        return label_image_inputs(self, sample, map_step(self, 'maps').out_dir)

    def build_model(self):
        """The trained ``AffinityNet`` of the ``affinity`` step, in eval mode."""
        source = self.input_step('affinity', [TrainAffinityNet])
        model_cfg = copy.deepcopy(source.stage_config().model)
        model_cfg['backbone'].pop('init_cfg', None)
        model_cfg['backbone'].pop('pretrained', None)
        model = MODELS.build(model_cfg)
        load_model_checkpoint(model, source.checkpoint(),
                              what=f'the model of {source.config}')
        device = self.device or ('cuda' if torch.cuda.is_available() else 'cpu')
        return model.to(device).eval()

    def run(self) -> Dict[str, Any]:
        samples, classes = self.samples()
        map_dir = map_step(self, 'maps').out_dir
        model = self.build_model()
        if samples:  # fail before any work when the map folder has no strided maps
            load_strided_maps(map_dir, samples[0], model.stride)
        os.makedirs(self.out_dir, exist_ok=True)
        write_labelled_images(self.out_dir, [sample['img_id'] for sample in samples])
        todo = [sample for sample in samples
                if not osp.isfile(label_path(self.out_dir, sample['img_id']))]
        print_log(f'step "{self.name}": random walk of {len(todo)} of {len(samples)} images '
                  f'({len(samples) - len(todo)} already done)', logger='current')
        options = {key: getattr(self, key) for key in self.walk_options}
        start = time.perf_counter()
        ignored = pixels = 0
        with torch.no_grad():
            for index, sample in enumerate(todo):
                image = load_rgb_image(sample['img_path'])
                label = refine_sample(model, sample, map_dir, image, **options)['label']
                save_label(label_path(self.out_dir, sample['img_id']), label)
                ignored += int((label == IGNORE_INDEX).sum())
                pixels += label.size
                if (index + 1) % 200 == 0:
                    print_log(f'step "{self.name}": {index + 1} / {len(todo)} images',
                              logger='current')
        seconds = time.perf_counter() - start
        result = dict(num_written=len(todo), seconds=seconds,
                      images_per_second=len(todo) / seconds if seconds > 0 else 0.0,
                      device=str(next(model.parameters()).device),
                      # over every label, those an earlier (interrupted) run wrote too
                      ignored_fraction=(ignored / pixels if len(todo) == len(samples) and pixels
                                        else folder_ignored_fraction(self.out_dir, samples)))
        metrics = self.evaluate_folder(samples, classes, self.nproc)
        if metrics is not None:
            result['eval'] = metrics
        return result
