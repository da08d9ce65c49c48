"""Image-label datasets, stage-1 transforms, the class-pair sampler and the stage-3
pseudo-label dataset. The synthetic benchmark's generator is apart, in
:mod:`wsss_toolbox.datasets.synthetic_benchmark` (not imported here)."""
from .base_dataset import (
                           DatasetFormatError,
                           ImageLabelDataset,
                           ImageRecord,
                           read_class_file,
                           read_text_lines,
)
from .clsloc import CLSLOCImageLabelDataset
from .coco import COCOImageLabelDataset
from .generic import GenericImageLabelDataset
from .group_dataset import ImageGroupDataset, group_collate
from .lid import LIDImageLabelDataset, LIDSegDataset
from .pseudo_label_dataset import PseudoLabelSegDataset
from .samplers import ClassIndex, ClassPairSampler, dataset_label_matrix
from .transforms import (
                           DEFAULT_META_KEYS,
                           LoadImageWithCheck,
                           LoadWSSSAnnotations,
                           PackWSSSInputs,
                           RecordedRandomCrop,
                           restore_geometry,
)
from .voc import VOC_CLASSES, SyntheticWSSSDataset, VOCImageLabelDataset, read_label_file, read_mask

__all__ = [
    'DatasetFormatError', 'ImageLabelDataset', 'ImageRecord', 'read_class_file',
    'read_text_lines', 'COCOImageLabelDataset', 'GenericImageLabelDataset',
    'ImageGroupDataset', 'group_collate', 'LIDImageLabelDataset', 'LIDSegDataset',
    'CLSLOCImageLabelDataset', 'ClassIndex',
    'ClassPairSampler', 'dataset_label_matrix', 'PseudoLabelSegDataset', 'DEFAULT_META_KEYS',
    'LoadImageWithCheck', 'LoadWSSSAnnotations', 'PackWSSSInputs', 'RecordedRandomCrop',
    'restore_geometry',
    'VOC_CLASSES', 'SyntheticWSSSDataset', 'VOCImageLabelDataset', 'read_label_file',
    'read_mask'
]
