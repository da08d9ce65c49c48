"""Loading transforms with errors that name the offending file."""
import os.path as osp
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform, LoadImageFromFile
from mmengine.fileio import get

from wsss_toolbox.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadImageWithCheck(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` that fails with a clear message on bad images.

    A missing file raises ``FileNotFoundError`` and an empty / undecodable file raises
    ``OSError``, both naming the image (mmcv's own loader gives a bare assertion or a decoder
    error). Images are never silently skipped (``ignore_empty`` is not supported).
    """

    def __init__(self, **kwargs) -> None:
        if kwargs.get('ignore_empty'):
            raise ValueError('LoadImageWithCheck never skips images; use LoadImageFromFile '
                             'with ignore_empty=True for that')
        super().__init__(**kwargs)

    def transform(self, results: dict) -> dict:
        path = results['img_path']
        is_local = '://' not in path
        if is_local and not osp.isfile(path):
            raise FileNotFoundError(f'image {path!r} does not exist; add it or remove it from '
                                    'the dataset annotation list')
        try:
            loaded = super().transform(results)
        except Exception as error:  # cv2.error, PIL errors, mmcv's assertion
            raise OSError(f'cannot decode image {path!r}: the file is empty or corrupt; '
                          're-export it or remove it from the annotation list') from error
        if loaded is None or loaded.get('img') is None:
            raise OSError(f'cannot decode image {path!r}: the file is empty or corrupt')
        return loaded


def _decode(path: str, flag: str, what: str) -> np.ndarray:
    try:
        array = mmcv.imfrombytes(get(path), flag=flag, backend='pillow')
    except FileNotFoundError:
        raise FileNotFoundError(f'{what} {path!r} does not exist') from None
    except Exception as error:  # pillow raises several decoder-specific types
        raise OSError(f'cannot decode {what} {path!r}: the file is empty or corrupt') from error
    if array is None:
        raise OSError(f'cannot decode {what} {path!r}: the file is empty or corrupt')
    return array


@TRANSFORMS.register_module()
class LoadWSSSAnnotations(BaseTransform):
    """Load the ground-truth mask and the saliency map of an image when it has them.

    Put it right after the image loader, before any geometric transform: it checks that the
    mask and the saliency map have the size of the image (``ValueError`` naming both files).

    Added keys (only when the data info has the path):

    - ``gt_seg_map`` (uint8 HxW; 0 = background, k + 1 = class k, 255 = ignore)
    - ``gt_saliency`` (float32 HxW in [0, 1])

    Both are appended to ``seg_fields``, so mmseg's ``Resize``, ``RandomResize``,
    ``RandomFlip``, ``RandomCrop`` (and :class:`RecordedRandomCrop`) move them with the image.
    Those use nearest-neighbour interpolation for every seg field, saliency included.

    A mask value that is neither a class id (``0..C``, C foreground classes) nor 255 raises
    ``ValueError`` naming the mask, the ids and the number of classes.

    Args:
        with_seg: load ``seg_map_path``.
        with_saliency: load ``saliency_path``.
        num_classes: number C of foreground classes (mask ids ``0..C``); default: the length
            of the data info's ``gt_label`` (every image-label dataset gives it); with neither
            the ids are not checked.
    """

    def __init__(self, with_seg: bool = True, with_saliency: bool = True,
                 num_classes: Optional[int] = None) -> None:
        self.with_seg = with_seg
        self.with_saliency = with_saliency
        self.num_classes = num_classes

    def _check_class_ids(self, results: dict, mask: np.ndarray, path: str) -> None:
        num_classes = self.num_classes
        if num_classes is None and results.get('gt_label') is not None:
            num_classes = len(np.asarray(results['gt_label']).reshape(-1))
        if num_classes is not None:
            # imported here: the datasets package does not load the stage-2 package
            from wsss_toolbox.pseudo_labels.label_io import IGNORE_INDEX, check_class_ids
            check_class_ids(mask, num_classes + 1, path, IGNORE_INDEX)

    def _check_size(self, results: dict, array: np.ndarray, path: str, what: str) -> None:
        img_hw = tuple(results['img'].shape[:2])
        if tuple(results.get('img_shape', img_hw)) != tuple(results.get('ori_shape', img_hw)):
            raise RuntimeError(
                'LoadWSSSAnnotations must come before any geometric transform of the image '
                f'(image {results["img_path"]!r} was already resized)')
        if tuple(array.shape[:2]) != img_hw:
            raise ValueError(
                f'{what} {path!r} is {array.shape[1]}x{array.shape[0]} (WxH) but its image '
                f'{results["img_path"]!r} is {img_hw[1]}x{img_hw[0]}; they must have the same '
                'size')

    def transform(self, results: dict) -> dict:
        seg_fields = results.setdefault('seg_fields', [])
        seg_map_path: Optional[str] = results.get('seg_map_path')
        if self.with_seg and seg_map_path:
            mask = _decode(seg_map_path, 'unchanged', 'mask')
            if mask.ndim == 3:
                raise ValueError(
                    f'mask {seg_map_path!r} has {mask.shape[2]} channels; expected a '
                    'single-channel PNG of class indices')
            self._check_size(results, mask, seg_map_path, 'mask')
            self._check_class_ids(results, mask, seg_map_path)  # before the uint8 cast
            results['gt_seg_map'] = mask.astype(np.uint8)
            if 'gt_seg_map' not in seg_fields:
                seg_fields.append('gt_seg_map')
        saliency_path: Optional[str] = results.get('saliency_path')
        if self.with_saliency and saliency_path:
            saliency = _decode(saliency_path, 'grayscale', 'saliency map')
            self._check_size(results, saliency, saliency_path, 'saliency map')
            results['gt_saliency'] = saliency.astype(np.float32) / 255.0
            if 'gt_saliency' not in seg_fields:
                seg_fields.append('gt_saliency')
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(with_seg={self.with_seg}, '
                f'with_saliency={self.with_saliency}, num_classes={self.num_classes})')
