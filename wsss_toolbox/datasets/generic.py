"""Generic layout: an image folder plus a text file ``image_id label label ...``."""
import os.path as osp
from typing import List, Optional

from wsss_toolbox.registry import DATASETS

from .base_dataset import ImageLabelDataset, ImageRecord, read_text_lines

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


@DATASETS.register_module()
class GenericImageLabelDataset(ImageLabelDataset):
    """Any image folder with a label text file.

    Layout::

        data_root/labels.txt        lines "image_id label label ..." (names or 0-based indices)
        data_root/classes.txt       one foreground class per line (or metainfo.classes)
        data_root/images/<image_id><img_suffix>
        data_root/<masks>/<image_id>.png, data_root/<saliency>/<image_id>.png   (optional)

    ``image_id`` may carry its own image extension (``cat_01.png``); then it is used as the
    file name and the id is its stem. It may contain sub-folders (``a/b/x``); the id is then
    the full relative stem.
    """

    def __init__(self,
                 ann_file: str = 'labels.txt',
                 data_prefix: Optional[dict] = None,
                 class_file: Optional[str] = 'classes.txt',
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        if data_prefix is None:
            data_prefix = dict(img_path='images')
        if metainfo and metainfo.get('classes'):
            class_file = None
        super().__init__(
            ann_file=ann_file,
            data_prefix=data_prefix,
            class_file=class_file,
            metainfo=metainfo,
            **kwargs)

    def load_records(self) -> List[ImageRecord]:
        img_folder = self.prefix('img_path') or ''
        records = []
        for line_number, line in read_text_lines(self.ann_file):
            name, *labels = line.split()
            stem, extension = osp.splitext(name)
            file_name = name if extension.lower() in IMAGE_EXTENSIONS else name + self.img_suffix
            if extension.lower() not in IMAGE_EXTENSIONS:
                stem = name
            records.append(
                ImageRecord(
                    img_id=stem,
                    img_path=osp.join(img_folder, file_name),
                    labels=labels,
                    seg_map_path=self.optional_file('seg_map_path', stem, self.seg_map_suffix),
                    saliency_path=self.optional_file('saliency_path', stem,
                                                     self.saliency_suffix),
                    source=f'{self.ann_file}, line {line_number}'))
        return records
