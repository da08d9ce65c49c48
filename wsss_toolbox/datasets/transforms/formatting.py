"""Pack a pipeline result into the model's input and a ``WSSSDataSample``."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData

from wsss_toolbox.registry import TRANSFORMS
from wsss_toolbox.structures import WSSSDataSample

DEFAULT_META_KEYS = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'pad_shape',
                     'scale_factor', 'flip', 'flip_direction', 'crop_bbox')


@TRANSFORMS.register_module()
class PackWSSSInputs(BaseTransform):
    """Pack the image, the multi-hot label and the optional mask / saliency.

    Returns ``{'inputs': (3, H, W) uint8 tensor (channel order of the loader, BGR by
    default), 'data_samples': WSSSDataSample}`` with ``gt_label`` (float32 (C,)),
    ``gt_sem_seg`` (PixelData int64 (1, H, W)) when the pipeline loaded a mask and
    ``gt_saliency`` (PixelData float32 (1, H, W) in [0, 1]) when it loaded a saliency map.

    Args:
        meta_keys: keys copied into the data sample's metainfo when present in the results
            (``crop_bbox`` is recorded by :class:`RecordedRandomCrop`).
    """

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.ndim == 2:
            img = img[..., None]
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        data_sample = WSSSDataSample()
        data_sample.gt_label = torch.as_tensor(np.asarray(results['gt_label'],
                                                          dtype=np.float32))
        for key in ('gt_seg_map', 'gt_saliency'):
            if results.get(key) is not None and results[key].shape[:2] != img.shape[:2]:
                raise ValueError(
                    f'{key} of {results.get("img_path")!r} is {results[key].shape[:2]} but the '
                    f'image is {img.shape[:2]}: a transform moved the image without it. Use '
                    "mmseg's Resize/RandomResize/RandomFlip/RandomCrop (they follow seg_fields; "
                    "mmcv's only move gt_seg_map), e.g. under default_scope='wsss_toolbox'")
        if results.get('gt_seg_map') is not None:
            mask = np.ascontiguousarray(results['gt_seg_map'])[None].astype(np.int64)
            data_sample.gt_sem_seg = PixelData(data=torch.from_numpy(mask))
        if results.get('gt_saliency') is not None:
            saliency = np.ascontiguousarray(results['gt_saliency'], dtype=np.float32)[None]
            data_sample.gt_saliency = PixelData(data=torch.from_numpy(saliency))
        data_sample.set_metainfo(
            {key: results[key] for key in self.meta_keys if key in results})
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
