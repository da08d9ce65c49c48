"""Image-label datasets, stage-1 transforms, the class-pair sampler and the synthetic benchmark."""
from .base_dataset import (DatasetFormatError, ImageLabelDataset, ImageRecord, read_class_file,
                           read_text_lines)
from .coco import COCOImageLabelDataset
from .generic import GenericImageLabelDataset
from .group_dataset import ImageGroupDataset, group_collate
from .lid import LIDImageLabelDataset
from .samplers import ClassIndex, ClassPairSampler, dataset_label_matrix
from .synthetic import (SyntheticBenchmarkConfig, format_summary,
                        generate_synthetic_benchmark)
from .transforms import (DEFAULT_META_KEYS, LoadImageWithCheck, LoadWSSSAnnotations,
                         PackWSSSInputs, RecordedRandomCrop, restore_geometry)
from .transforms import LoadCumulativeMaps, PackWSSSInputsWithSoftMaps
from .voc import (VOC_CLASSES, SyntheticWSSSDataset, VOCImageLabelDataset, read_label_file,
                  read_mask)

__all__ = [
    'LoadCumulativeMaps', 'PackWSSSInputsWithSoftMaps',
    'DatasetFormatError', 'ImageLabelDataset', 'ImageRecord', 'read_class_file',
    'read_text_lines', 'COCOImageLabelDataset', 'GenericImageLabelDataset',
    'ImageGroupDataset', 'group_collate', 'LIDImageLabelDataset', 'ClassIndex',
    'ClassPairSampler', 'dataset_label_matrix', 'SyntheticBenchmarkConfig', 'format_summary',
    'generate_synthetic_benchmark', 'DEFAULT_META_KEYS', 'LoadImageWithCheck',
    'LoadWSSSAnnotations', 'PackWSSSInputs', 'RecordedRandomCrop', 'restore_geometry',
    'VOC_CLASSES', 'SyntheticWSSSDataset', 'VOCImageLabelDataset', 'read_label_file',
    'read_mask'
]
