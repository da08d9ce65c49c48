"""Pipeline step of MCIS's map inference (registered in ``PIPELINE_STEPS``)."""
import time
from typing import Any, Dict, Optional, Sequence

import torch
from mmengine.logging import print_log

from wsss_toolbox.pipeline.base_step import PipelineStep
from wsss_toolbox.pipeline.map_steps import InferMaps, check_split
from wsss_toolbox.registry import PIPELINE_STEPS

from .inference import infer_mcis_maps


@PIPELINE_STEPS.register_module()
class MCISInferMaps(InferMaps):
    """Stage 2a of MCIS: :func:`~wsss_toolbox.methods.mcis.inference.infer_mcis_maps` on
    one split with a trained MCIS classifier.

    Args:
        classifier: the ``TrainClassifier`` step whose last checkpoint is used.
        split: ``'train'`` or ``'val'``.
        mode, num_related, related_seed, related, input_size, fusion_resize: see
            ``infer_mcis_maps``;
            options left ``None`` take the classifier config's ``mcis_inference`` entry.

    Result: ``written``/``skipped`` counts, ``seconds`` and ``images_per_s`` (inference of
    the written images, reading included).
    """
    inference_args = ('mode', 'num_related', 'related_seed', 'related', 'input_size',
                      'fusion_resize')
    inference_config_key = 'mcis_inference'
    list_file_options = ('related', )

    def __init__(self, name: str, runner, classifier: str = 'stage1', split: str = 'train',
                 mode: Optional[str] = None, num_related: Optional[int] = None,
                 related_seed: Optional[int] = None, related: Optional[Any] = None,
                 input_size: Optional[Sequence[int]] = None,
                 fusion_resize: Optional[str] = None) -> None:
        check_split(name, split)
        PipelineStep.__init__(self, name, runner)
        self.classifier_name, self.split = classifier, split
        self.mode, self.num_related, self.related_seed = mode, num_related, related_seed
        self.related, self.input_size, self.fusion_resize = related, input_size, fusion_resize

    def images_depend_on_each_other(self) -> bool:
        # every mode but single_round reads related images (``infer_mcis_maps``' defaults)
        options = self.inference_options()
        return options.get('mode', 'fusion') != 'single_round' and bool(
            options.get('related') or options.get('num_related', 3))

    def run(self) -> Dict[str, Any]:
        model = self.build_model()
        samples, _ = self.samples()
        options = self.inference_options()
        print_log(f'step "{self.name}": inferring MCIS maps ({options.get("mode", "fusion")}) '
                  f'of {len(samples)} {self.split} images', logger='current')
        start = time.perf_counter()
        with torch.no_grad():
            counts = infer_mcis_maps(model, samples, self.out_dir, **options)
        counts['images_per_s'] = round(counts['written'] / counts['seconds'], 3) \
            if counts['seconds'] > 0 else None
        counts['wall_seconds'] = round(time.perf_counter() - start, 2)
        print_log(f'step "{self.name}": {counts}', logger='current')
        return dict(counts, split=self.split)
