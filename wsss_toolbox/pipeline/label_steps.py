"""The label steps of the pipeline (stage 2b): pseudo labels made from map files, refined
labels, and what every step with a folder of label PNGs shares (evaluation, summary row)."""
from typing import Any, Dict, List, Optional, Sequence, Tuple

from mmengine.logging import print_log

from wsss_toolbox.evaluation import evaluate_labels
from wsss_toolbox.maps.io import map_path
from wsss_toolbox.pseudo_labels import generate_pseudo_labels
from wsss_toolbox.pseudo_labels.label_io import IGNORE_INDEX, label_path, load_label
from wsss_toolbox.registry import PIPELINE_STEPS

from .base_step import PipelineStep, SummaryRow
from .file_digest import InputFiles
from .map_steps import map_step, percent


def label_image_inputs(step: PipelineStep, sample: dict, map_dir: str) -> InputFiles:
    """What a pseudo label is made from: the image's map file, the image, its saliency map,
    and its mask when the step evaluates the labels."""
    optional = [sample.get('saliency_path')]
    if getattr(step, 'evaluate', True):
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


class LabelFolderStep(PipelineStep):
    """A step whose output is a folder of pseudo-label PNGs, one per image of
    :meth:`samples`: evaluated against the ground truth like every label folder, its summary row
    and its missing-file check shared (MakePseudoLabels, IRN's RandomWalkLabels ...).
    A subclass sets the option ``evaluate`` (default True)."""
    summary_label = ''
    per_image_outputs = True
    #: score the labels against the masks (when every image has one)
    evaluate: bool = True

    def image_outputs(self, img_id: str) -> List[str]:
        return [label_path(self.out_dir, img_id)]

    def evaluate_folder(self, samples: List[dict], classes: List[str],
                        nproc: int = 1) -> Optional[Dict[str, Any]]:
        """The label metrics of the folder when ``evaluate`` is on and every image has a
        mask, else None."""
        if not (self.evaluate and all(s.get('seg_map_path') for s in samples)):
            return None
        names = ['background'] + list(classes)
        return evaluate_labels(samples, self.out_dir, len(names), class_names=names,
                               nproc=nproc)

    def summary_rows(self, result: Dict[str, Any]) -> List[SummaryRow]:
        if 'eval' not in result:
            return []
        name = f'{self.name} ({self.summary_label})' if self.summary_label else self.name
        return [SummaryRow(kind='labels', step=self.name, name=name,
                           mIoU=percent(result['eval']['metrics']['mIoU']),
                           extra=dict(ignored=percent(result['eval']['ignored_fraction'])))]


@PIPELINE_STEPS.register_module()
class MakePseudoLabels(LabelFolderStep):
    """Stage 2b: a label generator (``LABEL_GENERATORS``) and optional refiners turn the map
    files of the ``maps`` step into pseudo-label PNGs; evaluated against the ground truth when
    every image has a mask (``evaluate=True``)."""
    input_args = ('maps', )
    fingerprint_options = ('maps', 'generator', 'refiners', 'evaluate')

    def __init__(self, name: str, runner, generator: dict, maps: str = 'maps',
                 refiners: Sequence[dict] = (), evaluate: bool = True, nproc: int = 1) -> None:
        super().__init__(name, runner)
        self.maps, self.generator, self.refiners = maps, generator, list(refiners)
        self.evaluate, self.nproc = evaluate, nproc

    def map_dir(self) -> str:
        return map_step(self, 'maps').out_dir

    def label_recipe(self) -> Tuple[dict, List[dict], str]:
        """``(generator, refiners, map dir)`` that make this step's labels from map files."""
        return self.generator, list(self.refiners), self.map_dir()

    def samples(self) -> Tuple[List[dict], List[str]]:
        return map_step(self, 'maps').samples()

    def image_inputs(self, sample: dict) -> InputFiles:
        return label_image_inputs(self, sample, self.label_recipe()[2])

    def run(self) -> Dict[str, Any]:
        generator, refiners, map_dir = self.label_recipe()
        samples, classes = self.samples()
        print_log(f'step "{self.name}": pseudo labels of {len(samples)} images',
                  logger='current')
        summary = generate_pseudo_labels(samples, map_dir, self.out_dir, generator, refiners,
                                         nproc=self.nproc)
        result = dict(ignored_fraction=summary['ignored_fraction'] if not summary['num_skipped']
                      else folder_ignored_fraction(self.out_dir, samples))
        metrics = self.evaluate_folder(samples, classes, self.nproc)
        if metrics is not None:
            result['eval'] = metrics
        return result


@PIPELINE_STEPS.register_module()
class RefineLabels(MakePseudoLabels):
    """Refine the labels of an earlier label step (e.g. DenseCRF): the earlier step's
    generator and refiners, then ``refiners``, applied to the same maps (the generator is
    cheap and deterministic, so its labels are remade rather than read back)."""
    input_args = ('labels', )
    # and the whole recipe: the upstream generator, the chain of refiners
    fingerprint_options = ('labels', 'refiners', 'evaluate')

    def __init__(self, name: str, runner, refiners: Sequence[dict], labels: str = 'pseudo_labels',
                 evaluate: bool = True, nproc: int = 1) -> None:
        PipelineStep.__init__(self, name, runner)
        self.labels, self.refiners = labels, list(refiners)
        self.evaluate, self.nproc = evaluate, nproc

    def _source(self) -> MakePseudoLabels:
        return self.input_step('labels', [MakePseudoLabels])

    def label_recipe(self) -> Tuple[dict, List[dict], str]:
        generator, refiners, map_dir = self._source().label_recipe()
        return generator, refiners + list(self.refiners), map_dir

    def fingerprint_config(self) -> Any:
        generator, refiners, _ = self.label_recipe()
        return dict(super().fingerprint_config(), generator=generator, chain=refiners)

    def samples(self) -> Tuple[List[dict], List[str]]:
        return self._source().samples()
