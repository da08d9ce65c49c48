"""Geometric transforms that record what they did (so maps can be mapped back)."""
from mmseg.datasets.transforms import RandomCrop

from wsss_toolbox.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RecordedRandomCrop(RandomCrop):
    """mmseg's ``RandomCrop`` that also records the crop window.

    Adds ``crop_bbox = (x1, y1, x2, y2)``: the kept window in pixel coordinates of the image
    before cropping (``x2``/``y2`` exclusive, clipped to that image), so that a map predicted
    on the crop can be pasted back (:func:`restore_geometry`). Crops every field of
    ``seg_fields`` (mask, saliency) with the image, as mmseg's ``RandomCrop``.
    """

    def transform(self, results: dict) -> dict:
        height, width = results['img'].shape[:2]
        crop_y1, crop_y2, crop_x1, crop_x2 = self.crop_bbox(results)
        for key in results.get('seg_fields', []):
            results[key] = self.crop(results[key], (crop_y1, crop_y2, crop_x1, crop_x2))
        results['img'] = self.crop(results['img'], (crop_y1, crop_y2, crop_x1, crop_x2))
        results['img_shape'] = results['img'].shape[:2]
        results['crop_bbox'] = (int(crop_x1), int(crop_y1), int(min(crop_x2, width)),
                                int(min(crop_y2, height)))
        return results
