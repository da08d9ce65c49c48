"""LID 2020 track 1 / ILSVRC DET layout: image labels from per-image XML annotations
(:class:`LIDImageLabelDataset`) and the stage-3 dataset of the layout (:class:`LIDSegDataset`)."""
import os.path as osp
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional

from wsss_toolbox.registry import DATASETS

from .base_dataset import (
    DatasetFormatError,
    ImageLabelDataset,
    ImageRecord,
    read_text_lines,
    wnid_metainfo,
)
from .pseudo_label_dataset import PseudoLabelSegDataset


def line_of(text: str, needle: str) -> Optional[int]:
    """1-based line of the first occurrence of ``needle`` in ``text`` (None if absent)."""
    position = text.find(needle)
    return None if position < 0 else text.count('\n', 0, position) + 1


@DATASETS.register_module()
class LIDImageLabelDataset(ImageLabelDataset):
    """ILSVRC DET / LID 2020 ("ILSVRC-LID-200") with image labels from the XML files.

    Layout (ILSVRC DET)::

        data_root/ImageSets/DET/train.txt            lines "<relative stem> [anything]"
        data_root/Data/DET/train/<relative stem>.JPEG
        data_root/Annotations/DET/train/<relative stem>.xml
            <annotation> ... <object><name>n01443537</name> ... </object> ... </annotation>
        data_root/<masks>/<relative stem>.png        (optional, e.g. LID val masks)

    The labels are the ``<object><name>`` wnids of the XML file. Classes: ``class_file``
    (one class per line: ``wnid [readable name ...]``; the readable name, when given, becomes
    the class name and the wnid is kept in ``metainfo['wnids']``) or ``metainfo['classes']``
    (wnids, or names with ``metainfo['wnids']``). XML files without objects are images without
    positive labels (skipped with a warning, as LID's 456,567 -> 349,310 training images).

    Args:
        data_prefix: ``img_path``, ``ann_path`` (the XML folder), optional ``seg_map_path``,
            ``saliency_path``.
    """

    def __init__(self,
                 ann_file: str = 'ImageSets/DET/train.txt',
                 data_prefix: Optional[dict] = None,
                 class_file: Optional[str] = None,
                 img_suffix: str = '.JPEG',
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        if data_prefix is None:
            data_prefix = dict(img_path='Data/DET/train', ann_path='Annotations/DET/train')
        metainfo = wnid_metainfo(metainfo, class_file, kwargs.get('data_root', ''))
        super().__init__(
            ann_file=ann_file,
            data_prefix=data_prefix,
            class_file=class_file,
            img_suffix=img_suffix,
            metainfo=metainfo,
            **kwargs)

    def _wnid_lookup(self) -> Dict[str, int]:
        wnids = self._metainfo.get('wnids') or self.classes
        if len(wnids) != len(self.classes):
            raise DatasetFormatError(
                f'metainfo.wnids has {len(wnids)} entries but metainfo.classes has '
                f'{len(self.classes)}; give one wnid per class')
        return {wnid: index for index, wnid in enumerate(wnids)}

    def load_records(self) -> List[ImageRecord]:
        xml_folder = self.prefix('ann_path')
        if xml_folder is None or not osp.isdir(xml_folder):
            raise FileNotFoundError(
                f'data_prefix.ann_path is {xml_folder!r}, which is not a folder of XML files')
        img_folder = self.prefix('img_path') or ''
        wnid_lookup = self._wnid_lookup()
        records = []
        for line_number, line in read_text_lines(self.ann_file):
            stem = osp.splitext(line.split()[0])[0]
            source = f'{self.ann_file}, line {line_number}'
            xml_path = osp.join(xml_folder, stem + '.xml')
            if not osp.isfile(xml_path):
                raise FileNotFoundError(f'{source}: annotation {xml_path!r} does not exist')
            with open(xml_path, encoding='utf-8') as f:
                text = f.read()
            try:
                root = ET.fromstring(text)
            except ET.ParseError as error:
                raise DatasetFormatError(
                    f'{xml_path} (listed at {source}): not valid XML ({error})') from error
            labels = []
            for name_node in root.findall('object/name'):
                wnid = (name_node.text or '').strip()
                if wnid not in wnid_lookup:
                    line = line_of(text, f'>{wnid}<')
                    where = f'{xml_path}, line {line}' if line else xml_path
                    raise DatasetFormatError(
                        f'{where}: unknown class {wnid!r} (listed at {source}); add it to the '
                        'class list (class_file / metainfo) or fix the annotation')
                labels.append(wnid_lookup[wnid])
            img_id = osp.basename(stem)
            records.append(
                ImageRecord(
                    img_id=img_id,
                    img_path=osp.join(img_folder, stem + self.img_suffix),
                    labels=sorted(set(labels)),
                    seg_map_path=self.optional_file('seg_map_path', stem, self.seg_map_suffix),
                    saliency_path=self.optional_file('saliency_path', stem,
                                                     self.saliency_suffix),
                    source=f'{xml_path} (listed at {source})'))
        return records


@DATASETS.register_module()
class LIDSegDataset(PseudoLabelSegDataset):
    """Stage-3 (mmseg) dataset of the LID / ILSVRC DET layout: images named by the first
    token of each ``ann_file`` line (a relative stem, e.g.
    ``ILSVRC2013_train/n01443537/n01443537_10007 1``), masks named by the image id, the
    stem's base name (``<label dir>/<img_id>.png``) -- the names stages 1-2 give their map and
    label files, and those of the LID track-1 masks. Without a label folder (the test split)
    the items carry no mask. Otherwise as :class:`PseudoLabelSegDataset`: 201 classes
    (``'background'`` first, ``class_file`` of ``wnid [name]`` lines), ``labelled_images.txt``,
    file checks.
    """

    def __init__(self, *args, img_suffix: str = '.JPEG', **kwargs) -> None:
        super().__init__(*args, img_suffix=img_suffix, **kwargs)

    def load_data_list(self) -> List[dict]:
        if self.pseudo_label_dir is not None:
            self.data_prefix['seg_map_path'] = self.pseudo_label_dir
        img_dir = self.data_prefix.get('img_path') or ''
        label_dir = self.data_prefix.get('seg_map_path') or None
        if not self.ann_file or not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'{type(self).__name__}: image list (ann_file) '
                                    f'{self.ann_file!r} does not exist; check data_root and '
                                    'ann_file in the dataset config.')
        if label_dir is not None and not osp.isdir(label_dir):
            raise FileNotFoundError(f'{type(self).__name__}: the label folder {label_dir} '
                                    'does not exist (pseudo labels not made yet, or a wrong '
                                    "data_prefix['seg_map_path']).")
        data_list = []
        for _, line in read_text_lines(self.ann_file):
            stem = osp.splitext(line.split()[0])[0]
            info = dict(img_path=osp.join(img_dir, stem + self.img_suffix),
                        label_map=self.label_map, reduce_zero_label=self.reduce_zero_label,
                        seg_fields=[])
            if label_dir is not None:
                info['seg_map_path'] = osp.join(label_dir,
                                                osp.basename(stem) + self.seg_map_suffix)
            data_list.append(info)
        if not data_list:
            raise ValueError(f'{type(self).__name__}: {self.ann_file} lists no image.')
        if self.pseudo_label_dir is not None:
            data_list = self._skip_unlabelled(data_list, label_dir)
        if self.check_files:
            self._check_exist([info['img_path'] for info in data_list], 'image')
            if label_dir is not None:
                kind = 'pseudo-label' if self.pseudo_label_dir is not None else 'label'
                self._check_exist([info['seg_map_path'] for info in data_list], kind)
        return data_list
