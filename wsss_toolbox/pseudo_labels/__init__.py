"""Stage 2b: pseudo labels from localization maps (generators, refiners, runner).

SeeNet's ``HarmonicLabelGenerator`` (Algorithm 1) is a method component now, in SeeNet's
method folder; importing it from here still works for one version, with a
DeprecationWarning (see :func:`__getattr__`).
"""
from typing import Any

from .crf import DenseCRFRefiner
from .generators import (
    SaliencyLabelGenerator,
    ThresholdLabelGenerator,
    _moved_harmonic_label_generator,
)
from .label_io import (
                         IGNORE_INDEX,
                         label_path,
                         load_label,
                         load_rgb_image,
                         load_saliency,
                         save_label,
)
from .runner import (
                         build_label_generator,
                         build_refiners,
                         generate_pseudo_labels,
                         make_pseudo_label,
                         make_sample_pseudo_label,
)
from .samples import (
                         add_sample_source_args,
                         dataset_cfg_from_config,
                         json_path_next_to,
                         mask_class_names,
                         samples_from_args,
                         samples_from_dataset_cfg,
                         samples_from_folders,
)

__all__ = [
    'DenseCRFRefiner', 'SaliencyLabelGenerator', 'ThresholdLabelGenerator', 'IGNORE_INDEX',
    'label_path', 'load_label', 'load_rgb_image', 'load_saliency', 'save_label',
    'build_label_generator', 'build_refiners', 'generate_pseudo_labels', 'make_pseudo_label',
    'make_sample_pseudo_label',
    'add_sample_source_args', 'dataset_cfg_from_config', 'json_path_next_to',
    'mask_class_names', 'samples_from_args', 'samples_from_dataset_cfg', 'samples_from_folders'
]


def __getattr__(name: str) -> Any:
    """The old import path of ``HarmonicLabelGenerator``, deprecated (it warns and names the
    new one); see ``generators.__getattr__``."""
    if name == 'HarmonicLabelGenerator':
        return _moved_harmonic_label_generator(stacklevel=3)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
