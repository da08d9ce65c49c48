"""OAA's pipeline step: stage 2 takes the cumulative maps the recorder exported during
training instead of running map inference with the final classifier (OAA Sec. 3.2)."""
import os.path as osp
import shutil
import warnings
from typing import Any, Dict, List, Tuple

from mmengine.logging import print_log

from wsss_toolbox.pipeline import PipelineStep, TrainStep
from wsss_toolbox.registry import PIPELINE_STEPS

from .recorder_options import FLAT_NAMES, group_options

#: ``source`` -> the recorder's ``export=dict(...)`` key it names
SOURCE_KEYS = dict(export_dir='dir', export_raw_dir='raw_dir')


@PIPELINE_STEPS.register_module()
class CumulativeMaps(PipelineStep):
    """The map files a ``CumulativeMapRecorderHook`` exported while the ``classifier`` step
    trained, copied into this step's folder (so later steps read them like ``InferMaps``
    output). The images are the classifier config's training set.

    Args:
        classifier: the training step whose recorder exported the maps.
        source: ``'export_dir'`` (default): the exported map files (the recorder's
            ``export.dir``; image size, min-max normalised: stage 2's maps, the paper's OAA⁺
            targets); ``'export_raw_dir'``: the stored uint8 maps at feature resolution
            (``export.raw_dir``; the authors' OAA⁺ targets, read by
            ``LoadStoredCumulativeMaps``; not map files for stage 2).
    """
    input_args = ('classifier', )
    fingerprint_options = ('classifier', 'source')
    option_attributes = dict(classifier='classifier_name')
    sources = tuple(SOURCE_KEYS)

    def __init__(self, name: str, runner, classifier: str = 'stage1',
                 source: str = 'export_dir') -> None:
        if source not in self.sources:
            raise ValueError(f'step "{name}": source must be one of {self.sources}, '
                             f'got {source!r}')
        super().__init__(name, runner)
        self.classifier_name, self.source = classifier, source

    def classifier(self) -> TrainStep:
        return self.input_step('classifier', [TrainStep])

    def export_dir(self) -> str:
        """Where the classifier's recorder hook exports (its ``export=dict(dir=...)`` or
        ``export=dict(raw_dir=...)`` as ``source`` says, relative to the classifier's work
        dir; the flat spellings ``export_dir`` / ``export_raw_dir`` are read too)."""
        source = self.source
        cfg = self.classifier().stage_config()
        recorders = [hook for hook in cfg.get('custom_hooks', [])
                     if hook.get('type') == 'CumulativeMapRecorderHook']
        folder = None
        if len(recorders) == 1:
            hook = dict(recorders[0])
            flat = {key: hook.pop(key) for key in list(hook) if key in FLAT_NAMES}
            with warnings.catch_warnings():  # the hook itself warns about flat spellings
                warnings.simplefilter('ignore', DeprecationWarning)
                _, export = group_options(hook.get('store'), hook.get('export'), flat)
            folder = export[SOURCE_KEYS[source]]
        if not folder:
            raise ValueError(
                f'step "{self.name}": the config of step "{self.classifier().name}" '
                f'({self.classifier().config}) must have one '
                f'CumulativeMapRecorderHook with an `export.{SOURCE_KEYS[source]}` '
                f'(`{source}`) in `custom_hooks`; found {len(recorders)} recorder(s)'
                + (f' and no `{source}`' if len(recorders) == 1 else '') + '.')
        return folder if osp.isabs(folder) else osp.join(cfg.work_dir, folder)

    def samples(self) -> Tuple[List[dict], List[str]]:
        cfg = self.classifier().stage_config()
        return self.runner.dataset_samples(cfg.train_dataloader.dataset)

    def run(self) -> Dict[str, Any]:
        source = self.export_dir()
        if not osp.isdir(source):
            raise FileNotFoundError(
                f'step "{self.name}": the classifier should have exported its maps to '
                f'{source}, but that folder does not exist (did its training finish?).')
        print_log(f'step "{self.name}": taking the maps step "{self.classifier().name}" '
                  f'exported to {source}', logger='current')
        shutil.copytree(source, self.out_dir, dirs_exist_ok=True)
        return dict(source=osp.relpath(source, self.runner.work_dir))
