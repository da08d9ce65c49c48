"""MS COCO 2014 with image labels read from an ``instances_*.json`` file."""
import os.path as osp
from typing import List, Optional

from mmengine.fileio import load

from wsss_toolbox.registry import DATASETS

from .base_dataset import DatasetFormatError, ImageLabelDataset, ImageRecord


@DATASETS.register_module()
class COCOImageLabelDataset(ImageLabelDataset):
    """MS COCO (2014 layout) with image-level labels from the instances json.

    Layout::

        data_root/annotations/instances_train2014.json
        data_root/train2014/COCO_train2014_000000000009.jpg
        data_root/<masks>/COCO_train2014_000000000009.png     (optional, class-index PNGs)
        data_root/<saliency>/COCO_train2014_000000000009.png  (optional)

    An image's labels are the categories of all its annotations (crowd ones included). The
    classes are the json's ``categories`` sorted by id unless ``metainfo['classes']`` gives
    them (then every category name must be one of them). The image id is the file-name stem.
    Masks are not rasterised from polygons: point ``data_prefix.seg_map_path`` at PNGs
    converted beforehand (0 = background, k + 1 = class k in the order of the classes).
    """

    def __init__(self,
                 ann_file: str = 'annotations/instances_train2014.json',
                 data_prefix: Optional[dict] = None,
                 **kwargs) -> None:
        if data_prefix is None:
            data_prefix = dict(img_path='train2014')
        super().__init__(ann_file=ann_file, data_prefix=data_prefix, **kwargs)

    def load_records(self) -> List[ImageRecord]:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'COCO annotation file {self.ann_file!r} does not exist')
        content = load(self.ann_file)
        for key in ('images', 'annotations', 'categories'):
            if key not in content:
                raise DatasetFormatError(
                    f'{self.ann_file}: no "{key}" entry; expected a COCO instances json')
        categories = sorted(content['categories'], key=lambda category: category['id'])
        if not self._metainfo.get('classes'):
            self._metainfo['classes'] = tuple(category['name'] for category in categories)
        lookup = self._class_lookup()
        category_to_class = {}
        for category in categories:
            if category['name'] not in lookup:
                raise DatasetFormatError(
                    f'{self.ann_file}: category {category["name"]!r} (id {category["id"]}) is '
                    'not in metainfo.classes; add it there or remove the category')
            category_to_class[category['id']] = lookup[category['name']]

        labels_of_image = {image['id']: set() for image in content['images']}
        for position, annotation in enumerate(content['annotations']):
            where = f'{self.ann_file}, annotations[{position}] (id {annotation.get("id")})'
            if annotation['category_id'] not in category_to_class:
                raise DatasetFormatError(
                    f'{where}: unknown category_id {annotation["category_id"]}; it is not '
                    'listed in "categories"')
            if annotation['image_id'] not in labels_of_image:
                raise DatasetFormatError(
                    f'{where}: image_id {annotation["image_id"]} is not listed in "images"')
            category = category_to_class[annotation['category_id']]
            labels_of_image[annotation['image_id']].add(category)

        img_folder = self.prefix('img_path') or ''
        records = []
        for position, image in enumerate(content['images']):
            stem = osp.splitext(image['file_name'])[0]
            records.append(
                ImageRecord(
                    img_id=stem,
                    img_path=osp.join(img_folder, image['file_name']),
                    labels=sorted(labels_of_image[image['id']]),
                    seg_map_path=self.optional_file('seg_map_path', stem, self.seg_map_suffix),
                    saliency_path=self.optional_file('saliency_path', stem,
                                                     self.saliency_suffix),
                    source=f'{self.ann_file}, images[{position}] (id {image["id"]})'))
        return records
