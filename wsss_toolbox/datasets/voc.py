"""PASCAL VOC 2012 (+ SBD ``train_aug``) and the embedded synthetic benchmark (VOC layout)."""
import os.path as osp
from typing import Dict, List, Optional

import mmcv
import numpy as np
from mmengine.fileio import get

from wsss_toolbox.registry import DATASETS

from .base_dataset import DatasetFormatError, ImageLabelDataset, ImageRecord, read_text_lines

VOC_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair',
               'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant',
               'sheep', 'sofa', 'train', 'tvmonitor')

IGNORE_INDEX = 255


def read_mask(path: str) -> np.ndarray:
    """A single-channel uint8 class-index mask (palette or grayscale PNG) as an HxW array."""
    mask = mmcv.imfrombytes(get(path), flag='unchanged', backend='pillow')
    if mask is None:
        raise OSError(f'cannot decode mask {path!r}: the file is empty or corrupt')
    if mask.ndim == 3:
        raise DatasetFormatError(
            f'mask {path!r} has {mask.shape[2]} channels; expected a single-channel PNG of '
            'class indices (0 = background, k + 1 = class k, 255 = ignore), e.g. a VOC '
            'palette PNG')
    return mask


def classes_in_mask(mask: np.ndarray, num_classes: int, source: str) -> List[int]:
    """Foreground class indices present in a mask (0 = background, 255 = ignore).

    ``num_classes`` counts the foreground classes (the mask ids are 0..num_classes); another
    value raises ``DatasetFormatError`` naming ``source`` (the mask file) and the ids.
    """
    # imported here: the datasets package does not load the stage-2 package
    from wsss_toolbox.pseudo_labels.label_io import class_id_message, out_of_range_ids
    bad = out_of_range_ids(mask, num_classes + 1, IGNORE_INDEX)
    if bad:
        raise DatasetFormatError(class_id_message(source, bad, num_classes + 1, IGNORE_INDEX))
    values = np.flatnonzero(np.bincount(mask.ravel(), minlength=256))
    values = values[(values != 0) & (values != IGNORE_INDEX)]
    return [int(v) - 1 for v in values]


def read_label_file(path: str) -> Dict[str, tuple]:
    """Image labels from a text file: ``img_id token token ...`` per line.

    A token is a class name or a 0-based foreground class index; a line with only the image id
    means "no positive class". Returns ``{img_id: (tokens, 'file, line N')}``.
    """
    labels = {}
    for line_number, line in read_text_lines(path):
        img_id, *tokens = line.split()
        source = f'{path}, line {line_number}'
        if img_id in labels:
            raise DatasetFormatError(
                f'{source}: image {img_id!r} is listed twice (first at {labels[img_id][1]})')
        labels[img_id] = (tokens, source)
    return labels


def stem_of_list_entry(entry: str) -> str:
    """Image id of an image-set line: ``2007_000032`` or ``/JPEGImages/2007_000032.jpg ...``."""
    first = entry.split()[0]
    if '/' in first or '.' in osp.basename(first):
        return osp.splitext(osp.basename(first))[0]
    return first


@DATASETS.register_module()
class VOCImageLabelDataset(ImageLabelDataset):
    """PASCAL VOC 2012 with image labels (also SBD ``train_aug``).

    Layout::

        data_root/JPEGImages/<id>.jpg
        data_root/SegmentationClassAug/<id>.png   (or SegmentationClass; optional)
        data_root/Saliency/<id>.png                (optional)
        data_root/ImageSets/Segmentation/train_aug.txt   (one id per line)

    The image labels are read from ``label_file`` (lines ``img_id cls cls ...``, classes by name
    or 0-based foreground index) when it is given; otherwise they are derived from the masks
    (every value other than 0 and 255), which then must exist for every listed image.

    Args:
        ann_file: image-set file (one image id per line; ``/JPEGImages/x.jpg ...`` lines of the
            usual ``train_aug.txt`` copies work too).
        label_file: optional class-label file, relative to ``data_root``.
        data_prefix: ``img_path``, ``seg_map_path`` (None = no masks), ``saliency_path``.
        **kwargs: see :class:`ImageLabelDataset`.
    """

    METAINFO = dict(classes=VOC_CLASSES)

    def __init__(self,
                 ann_file: str = 'ImageSets/Segmentation/train_aug.txt',
                 data_prefix: Optional[dict] = None,
                 label_file: Optional[str] = None,
                 **kwargs) -> None:
        if data_prefix is None:
            data_prefix = dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug')
        data_root = kwargs.get('data_root', '')
        if label_file is not None and not osp.isabs(label_file) and data_root:
            label_file = osp.join(data_root, label_file)
        self.label_file = label_file
        super().__init__(ann_file=ann_file, data_prefix=data_prefix, **kwargs)

    def load_records(self) -> List[ImageRecord]:
        label_lookup = read_label_file(self.label_file) if self.label_file else None
        img_folder = self.prefix('img_path') or ''
        num_classes = len(self.classes)
        records = []
        for line_number, line in read_text_lines(self.ann_file):
            img_id = stem_of_list_entry(line)
            source = f'{self.ann_file}, line {line_number}'
            seg_map_path = self.optional_file('seg_map_path', img_id, self.seg_map_suffix)
            if label_lookup is not None:
                if img_id not in label_lookup:
                    raise DatasetFormatError(
                        f'{source}: image {img_id!r} has no line in the label file '
                        f'{self.label_file!r}; add "{img_id} <classes>" there')
                labels, source = label_lookup[img_id]
            else:
                if seg_map_path is None:
                    raise DatasetFormatError(
                        f'{source}: image {img_id!r} has no mask in '
                        f'{self.prefix("seg_map_path")!r} to derive its labels from; give a '
                        'label_file or point data_prefix.seg_map_path at the masks')
                labels = classes_in_mask(read_mask(seg_map_path), num_classes,
                                         f'{seg_map_path} (listed at {source})')
            records.append(
                ImageRecord(
                    img_id=img_id,
                    img_path=osp.join(img_folder, img_id + self.img_suffix),
                    labels=labels,
                    seg_map_path=seg_map_path,
                    saliency_path=self.optional_file('saliency_path', img_id,
                                                     self.saliency_suffix),
                    source=source))
        return records


@DATASETS.register_module()
class SyntheticWSSSDataset(VOCImageLabelDataset):
    """The embedded synthetic benchmark (see ``docs/synthetic_benchmark.md``).

    Same layout as VOC; the class names come from the generator's ``classes.txt`` and the
    labels from its ``cls_labels.txt``. ``split='train'`` or ``'val'`` picks the image set.
    """

    METAINFO = dict(classes=None)

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 ann_file: Optional[str] = None,
                 data_prefix: Optional[dict] = None,
                 class_file: str = 'classes.txt',
                 label_file: Optional[str] = 'cls_labels.txt',
                 **kwargs) -> None:
        if ann_file is None:
            ann_file = f'ImageSets/Segmentation/{split}.txt'
        if data_prefix is None:
            data_prefix = dict(
                img_path='JPEGImages', seg_map_path='SegmentationClass',
                saliency_path='Saliency')
        super().__init__(
            data_root=data_root,
            ann_file=ann_file,
            data_prefix=data_prefix,
            class_file=class_file,
            label_file=label_file,
            **kwargs)
