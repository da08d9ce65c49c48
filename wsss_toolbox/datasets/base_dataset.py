"""Image-label datasets: the common base of every layout (VOC, COCO, LID, generic).

A layout subclass only parses its annotation files into :class:`ImageRecord` s (image path, class
names or indices, optional mask / saliency paths, and where in which file the record came from).
:class:`ImageLabelDataset` turns them into mmengine data infos, with one set of checks and error
messages for all layouts:

* a class token that is not in ``metainfo['classes']`` -> ``DatasetFormatError`` naming the file
  and line;
* a missing image -> ``FileNotFoundError`` naming the image and the annotation line;
* images without any positive class are skipped, with one summary warning (stage 2 records
  the images it labels, so the stage-3 dataset skips them too);
* a configured saliency folder without an image's map -> the path is kept (its reader names
  the missing file) and one summary warning.

Data info of every sample (the contract of ``docs/design.md``)::

    dict(img_path=str, img_id=str, gt_label=np.float32 multi-hot (C,),
         seg_map_path=str | None, saliency_path=str | None, seg_fields=[])
"""
import os.path as osp
import warnings
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.fileio import load

from wsss_toolbox.registry import DATASETS

#: data_prefix keys that may be left out or set to None (no masks / no saliency)
OPTIONAL_PREFIXES = ('seg_map_path', 'saliency_path')


class DatasetFormatError(ValueError):
    """An annotation file does not follow the layout its dataset class expects."""


class ImageRecord(NamedTuple):
    """One image as a layout parser reads it, before checks and multi-hot encoding.

    ``labels`` holds class names or 0-based foreground class indices (``int`` or digit strings);
    ``source`` says where the record came from (``'train.txt, line 12'``) for error messages.
    """
    img_id: str
    img_path: str
    labels: Sequence[Union[str, int]]
    seg_map_path: Optional[str]
    saliency_path: Optional[str]
    source: str


def read_text_lines(path: str) -> List[tuple]:
    """``(line_number, stripped_line)`` of every non-blank, non-``#`` line of a text file."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'annotation file {path!r} does not exist')
    lines = []
    with open(path, encoding='utf-8') as f:
        for line_number, line in enumerate(f, start=1):
            line = line.strip()
            if line and not line.startswith('#'):
                lines.append((line_number, line))
    return lines


def read_class_file(path: str) -> List[str]:
    """Class names from a text file: the first token of each line, in order.

    Extra tokens (e.g. a readable name after an ImageNet wnid) are ignored here; see
    :func:`read_class_file_columns` for them.
    """
    return [columns[0] for columns in read_class_file_columns(path)]


def read_class_file_columns(path: str) -> List[List[str]]:
    """Whitespace-split tokens of every line of a class file (one class per line)."""
    rows = [line.split() for _, line in read_text_lines(path)]
    if not rows:
        raise DatasetFormatError(f'class file {path!r} lists no class')
    return rows


def wnid_metainfo(metainfo: Optional[dict], class_file: Optional[str],
                  data_root: str = '') -> dict:
    """``metainfo`` with ``wnids`` and readable ``classes`` from an ImageNet-style class file
    (lines ``wnid [name ...]``, relative to ``data_root``) unless it already names classes."""
    metainfo = dict(metainfo or {})
    if class_file is not None and not metainfo.get('classes'):
        if not osp.isabs(class_file) and data_root:
            class_file = osp.join(data_root, class_file)
        rows = read_class_file_columns(class_file)
        metainfo['wnids'] = tuple(row[0] for row in rows)
        metainfo['classes'] = tuple(' '.join(row[1:]) if len(row) > 1 else row[0]
                                    for row in rows)
    return metainfo


@DATASETS.register_module()
class ImageLabelDataset(BaseDataset):
    """Base dataset of images with image-level (multi-hot) labels.

    Used directly, it reads an OpenMMLab 2.0 annotation file (json/yaml/pickle with ``metainfo``
    and ``data_list``) whose items have ``img_path`` (relative to ``data_prefix['img_path']``),
    optional ``img_id``, ``labels`` (class names or foreground indices), optional
    ``seg_map_path`` and ``saliency_path``. Layout subclasses override :meth:`load_records`.

    Args:
        ann_file: annotation file, relative to ``data_root`` unless absolute.
        metainfo: must give ``classes`` (foreground classes only) unless ``class_file`` or the
            layout provides them.
        data_root: root folder of the dataset.
        data_prefix: folders of the images (``img_path``) and, optionally, of the ground-truth
            masks (``seg_map_path``) and saliency maps (``saliency_path``); ``None`` or a
            missing key means "not available".
        class_file: text file with one foreground class per line, relative to ``data_root``;
            used when ``metainfo`` gives no ``classes``.
        img_suffix / seg_map_suffix / saliency_suffix: file suffixes added to image ids.
        skip_empty: skip images without any positive class (one summary warning).
        check_images: check that every listed image exists while loading the annotations.
        **kwargs: passed to :class:`mmengine.dataset.BaseDataset` (``pipeline``,
            ``test_mode``, ``indices``, ``lazy_init``, ...).
    """

    METAINFO: dict = dict(classes=None)

    def __init__(self,
                 ann_file: str = '',
                 metainfo: Optional[dict] = None,
                 data_root: str = '',
                 data_prefix: Optional[dict] = None,
                 class_file: Optional[str] = None,
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 saliency_suffix: str = '.png',
                 skip_empty: bool = True,
                 check_images: bool = True,
                 **kwargs) -> None:
        self.img_suffix = img_suffix
        self.seg_map_suffix = seg_map_suffix
        self.saliency_suffix = saliency_suffix
        self.skip_empty = skip_empty
        self.check_images = check_images
        metainfo = dict(metainfo or {})
        if class_file is not None and not metainfo.get('classes'):
            if not osp.isabs(class_file) and data_root:
                class_file = osp.join(data_root, class_file)
            metainfo['classes'] = tuple(read_class_file(class_file))
        self.class_file = class_file
        data_prefix = dict(img_path='') if data_prefix is None else dict(data_prefix)
        # mmengine joins every prefix with data_root; "no masks" must not become data_root itself
        for key in OPTIONAL_PREFIXES:
            if key in data_prefix and not data_prefix[key]:
                del data_prefix[key]
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=data_prefix,
            **kwargs)

    # ------------------------------------------------------------------ classes
    @property
    def classes(self) -> tuple:
        classes = self._metainfo.get('classes')
        if not classes:
            raise DatasetFormatError(
                f'{type(self).__name__} needs its foreground class names: pass '
                'metainfo=dict(classes=(...)) or class_file=... in the dataset config')
        return tuple(classes)

    def _class_lookup(self) -> Dict[str, int]:
        return {name: index for index, name in enumerate(self.classes)}

    def encode_labels(self, labels: Iterable[Union[str, int]], source: str,
                      lookup: Optional[Dict[str, int]] = None) -> np.ndarray:
        """Multi-hot float32 (C,) vector of class names / 0-based foreground indices.

        A token that is a class name is that class; otherwise an integer token is a foreground
        index (0 = first class of ``metainfo['classes']``).
        """
        lookup = self._class_lookup() if lookup is None else lookup
        num_classes = len(self.classes)
        label = np.zeros(num_classes, dtype=np.float32)
        for token in labels:
            if isinstance(token, (int, np.integer)):
                index = int(token)
            elif token in lookup:
                index = lookup[token]
            elif token.lstrip('-').isdigit():
                index = int(token)
            else:
                shown = ', '.join(self.classes[:8]) + (', ...' if num_classes > 8 else '')
                raise DatasetFormatError(
                    f'{source}: unknown class {token!r}; the dataset classes are ({shown}). '
                    'Fix the name or add it to the class list (metainfo/class_file).')
            if not 0 <= index < num_classes:
                raise DatasetFormatError(
                    f'{source}: class index {index} is out of range 0..{num_classes - 1} '
                    '(indices count foreground classes from 0, background excluded)')
            label[index] = 1.0
        return label

    # ------------------------------------------------------------------ paths
    def prefix(self, key: str) -> Optional[str]:
        """The joined folder of ``data_prefix[key]``, or None when it is not configured."""
        return self.data_prefix.get(key) or None

    def optional_file(self, key: str, relative_stem: str, suffix: str) -> Optional[str]:
        """``<prefix>/<stem><suffix>`` when the prefix is configured, else None.

        A missing mask gives None (masks may cover part of a split only, e.g. VOC's
        ``SegmentationClass`` of ``train_aug``). A missing saliency map keeps its path: a
        configured saliency folder holds one map per image, so whatever reads the map names
        the missing file, and :meth:`load_data_list` warns about such images once.
        """
        folder = self.prefix(key)
        if folder is None:
            return None
        path = osp.join(folder, relative_stem + suffix)
        return path if key == 'saliency_path' or osp.isfile(path) else None

    def _check_optional_folders(self) -> None:
        for key in OPTIONAL_PREFIXES:
            folder = self.prefix(key)
            if folder is not None and not osp.isdir(folder):
                raise FileNotFoundError(
                    f'data_prefix.{key} is {folder!r}, which is not a folder; fix the path or '
                    f'set data_prefix.{key}=None to load the dataset without it')

    # ------------------------------------------------------------------ loading
    def load_records(self) -> List[ImageRecord]:
        """Parse the annotation file into records; layouts override this."""
        annotations = load(self.ann_file)
        if not isinstance(annotations, dict) or 'data_list' not in annotations:
            raise DatasetFormatError(
                f'{self.ann_file}: expected an OpenMMLab 2.0 annotation file with "metainfo" '
                'and "data_list"')
        for key, value in annotations.get('metainfo', {}).items():
            if key == 'classes' and not self._metainfo.get('classes'):
                self._metainfo['classes'] = tuple(value)
            else:
                self._metainfo.setdefault(key, value)
        img_folder = self.prefix('img_path') or ''
        records = []
        for position, item in enumerate(annotations['data_list']):
            source = f'{self.ann_file}, data_list[{position}]'
            if 'img_path' not in item or 'labels' not in item:
                raise DatasetFormatError(f'{source}: needs "img_path" and "labels"')
            img_path = osp.join(img_folder, item['img_path'])
            stem = osp.splitext(item['img_path'])[0]
            optional = {}
            for key in OPTIONAL_PREFIXES:
                if item.get(key):
                    optional[key] = osp.join(self.prefix(key) or '', item[key])
                else:
                    suffix = self.seg_map_suffix if key == 'seg_map_path' else \
                        self.saliency_suffix
                    optional[key] = self.optional_file(key, stem, suffix)
            records.append(
                ImageRecord(
                    img_id=str(item.get('img_id', osp.basename(stem))),
                    img_path=img_path,
                    labels=item['labels'],
                    seg_map_path=optional['seg_map_path'],
                    saliency_path=optional['saliency_path'],
                    source=source))
        return records

    def load_data_list(self) -> List[dict]:
        """Parse the layout, validate it and build the data infos (see module docstring)."""
        self._check_optional_folders()
        records = self.load_records()
        lookup = self._class_lookup()
        data_list = []
        skipped = []
        for record in records:
            gt_label = self.encode_labels(record.labels, record.source, lookup)
            if self.skip_empty and not gt_label.any():
                skipped.append(record.img_id)
                continue
            if self.check_images and not osp.isfile(record.img_path):
                raise FileNotFoundError(
                    f'{record.source}: image {record.img_path!r} does not exist; add the '
                    'image or remove the line')
            data_list.append(
                dict(
                    img_path=record.img_path,
                    img_id=record.img_id,
                    gt_label=gt_label,
                    seg_map_path=record.seg_map_path,
                    saliency_path=record.saliency_path,
                    seg_fields=[]))
        if skipped:
            examples = ', '.join(skipped[:3]) + (', ...' if len(skipped) > 3 else '')
            warnings.warn(
                f'{type(self).__name__}: skipped {len(skipped)} of {len(records)} images of '
                f'{self.ann_file or self.data_root} without any positive label ({examples})',
                stacklevel=2)
        if not data_list:
            raise DatasetFormatError(
                f'{type(self).__name__}: no image with a positive label in '
                f'{self.ann_file or self.data_root}')
        no_saliency = [item['saliency_path'] for item in data_list
                       if item['saliency_path'] and not osp.isfile(item['saliency_path'])]
        if no_saliency:
            examples = ', '.join(no_saliency[:3]) + (', ...' if len(no_saliency) > 3 else '')
            warnings.warn(
                f'{type(self).__name__}: {len(no_saliency)} of {len(data_list)} images of '
                f'{self.ann_file or self.data_root} have no saliency map (missing: '
                f'{examples}); reading their saliency (saliency-guided labels, '
                'LoadWSSSAnnotations) will fail. Add the maps, or set '
                'data_prefix.saliency_path=None.',
                stacklevel=2)
        return data_list

    def get_cat_ids(self, idx: int) -> List[int]:
        """Foreground class indices of image ``idx`` (used by class-balanced wrappers)."""
        return np.flatnonzero(self.get_data_info(idx)['gt_label']).tolist()

    def label_matrix(self) -> np.ndarray:
        """(N, C) bool matrix of every image's labels (used by the pair sampler)."""
        return np.stack([self.get_data_info(i)['gt_label'] > 0 for i in range(len(self))])
