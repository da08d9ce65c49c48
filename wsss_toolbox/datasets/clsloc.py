"""LID 2020 track 3 / ILSVRC CLS-LOC layout: one image label per image (WSOL)."""
import os.path as osp
from typing import Dict, List, Optional

from wsss_toolbox.registry import DATASETS

from .base_dataset import (
    DatasetFormatError,
    ImageLabelDataset,
    ImageRecord,
    read_text_lines,
    wnid_metainfo,
)


@DATASETS.register_module()
class CLSLOCImageLabelDataset(ImageLabelDataset):
    """ILSVRC CLS-LOC (1000 classes, one label per image), LID 2020 track 3.

    Layout::

        data_root/LOC_synset_mapping.txt               1000 lines "wnid readable name"
        data_root/ImageSets/CLS-LOC/train_cls.txt      "<wnid>/<wnid>_<n> <k>" (train)
        data_root/Data/CLS-LOC/train/<wnid>/<wnid>_<n>.JPEG
        data_root/LID/track3/val.txt                   "<img_id> <wnid>" (the track's val /
        data_root/Data/CLS-LOC/val/<img_id>.JPEG        test images, one class each)
        data_root/LID/track3/val/<img_id>.png          the track's pixel masks: 0/255 binary
                                                       (255 = object; evaluate them with
                                                       ``mask_format='binary'``)

    The label of a line is its second token when that is a wnid (or a class name) of the
    class list, else the first folder of the stem (the train images live in a folder per
    wnid); a trailing integer (DET/CLS-LOC list index) is ignored. Exactly one label per
    image: another count is an error naming the line. Classes: ``class_file`` (``wnid
    [name ...]``; names become the classes, wnids ``metainfo['wnids']``) or
    ``metainfo['classes']``. The image id is the stem's base name (map and label files are
    named by it).
    """

    def __init__(self,
                 ann_file: str = 'ImageSets/CLS-LOC/train_cls.txt',
                 data_prefix: Optional[dict] = None,
                 class_file: Optional[str] = 'LOC_synset_mapping.txt',
                 img_suffix: str = '.JPEG',
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        if data_prefix is None:
            data_prefix = dict(img_path='Data/CLS-LOC/train')
        metainfo = wnid_metainfo(metainfo, class_file, kwargs.get('data_root', ''))
        super().__init__(ann_file=ann_file, data_prefix=data_prefix, class_file=class_file,
                         img_suffix=img_suffix, metainfo=metainfo, **kwargs)

    def _label_lookup(self) -> Dict[str, int]:
        lookup = {name: index for index, name in enumerate(self.classes)}
        wnids = self._metainfo.get('wnids')
        if wnids is not None:
            if len(wnids) != len(self.classes):
                raise DatasetFormatError(
                    f'metainfo.wnids has {len(wnids)} entries but metainfo.classes has '
                    f'{len(self.classes)}; give one wnid per class')
            lookup.update({wnid: index for index, wnid in enumerate(wnids)})
        return lookup

    def load_records(self) -> List[ImageRecord]:
        img_folder = self.prefix('img_path') or ''
        lookup = self._label_lookup()
        records = []
        for line_number, line in read_text_lines(self.ann_file):
            source = f'{self.ann_file}, line {line_number}'
            name, *tokens = line.split()
            stem = osp.splitext(name)[0]
            tokens = [token for token in tokens if not token.isdigit()]
            if len(tokens) > 1:
                raise DatasetFormatError(
                    f'{source}: {len(tokens)} labels ({" ".join(tokens)}); CLS-LOC images '
                    'have exactly one class')
            label = tokens[0] if tokens else stem.split('/')[0] if '/' in stem else None
            if label is None:
                raise DatasetFormatError(
                    f'{source}: no label: give "<img_id> <wnid>" or a stem inside its class '
                    'folder ("<wnid>/<name>")')
            if label not in lookup:
                raise DatasetFormatError(
                    f'{source}: unknown class {label!r}; add it to the class list '
                    '(class_file / metainfo) or fix the line')
            img_id = osp.basename(stem)
            records.append(
                ImageRecord(
                    img_id=img_id,
                    img_path=osp.join(img_folder, stem + self.img_suffix),
                    labels=[lookup[label]],
                    seg_map_path=self.optional_file('seg_map_path', img_id,
                                                    self.seg_map_suffix),
                    saliency_path=self.optional_file('saliency_path', img_id,
                                                     self.saliency_suffix),
                    source=source))
        return records
