"""Stage 2b: pseudo labels from localization maps (generators, refiners, runner)."""
from .crf import DenseCRFRefiner
from .generators import HarmonicLabelGenerator, SaliencyLabelGenerator, ThresholdLabelGenerator
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
    'DenseCRFRefiner', 'HarmonicLabelGenerator', 'SaliencyLabelGenerator',
    'ThresholdLabelGenerator', 'IGNORE_INDEX',
    'label_path', 'load_label', 'load_rgb_image', 'load_saliency', 'save_label',
    'build_label_generator', 'build_refiners', 'generate_pseudo_labels', 'make_pseudo_label',
    'make_sample_pseudo_label',
    'add_sample_source_args', 'dataset_cfg_from_config', 'json_path_next_to',
    'mask_class_names', 'samples_from_args', 'samples_from_dataset_cfg', 'samples_from_folders'
]
