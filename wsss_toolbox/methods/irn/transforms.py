"""Training data of the affinity network: the image's IRN seed label as its mask."""
import os.path as osp
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform

from wsss_toolbox.pseudo_labels.label_io import load_label
from wsss_toolbox.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadSeedLabels(BaseTransform):
    """Load ``<seed_dir>/<img_id>.png`` (IRN seeds: 0 = background, k + 1 = class k,
    255 = ignore) as ``gt_seg_map`` and add it to ``seg_fields``, so mmseg's geometric
    transforms move it with the image. Put it right after the image loader. When the sample
    has ``gt_label`` (C classes), a seed value other than ``0..C`` and 255 raises
    ``ValueError`` naming the file.

    Args:
        seed_dir: folder of the seed PNGs (the pipeline's ``TrainAffinityNet`` step sets it
            to its ``seeds`` step's folder).
    """

    def __init__(self, seed_dir: Optional[str] = None) -> None:
        self.seed_dir = seed_dir

    def transform(self, results: dict) -> dict:
        if not self.seed_dir:
            raise ValueError('LoadSeedLabels: seed_dir is not set; point it at the folder of '
                             'the IRN seed labels (an IRNSeeds step).')
        path = osp.join(self.seed_dir, f'{results["img_id"]}.png')
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'LoadSeedLabels: image "{results["img_id"]}" has no seed label "{path}"; make '
                'the seeds of every training image first (IRNSeeds step).')
        num_classes = None
        if results.get('gt_label') is not None:
            # seeds of an image-label dataset: ids 0..C (C = its classes), 255 = ignore; an
            # impossible id would reach the pair labels as a class of its own
            num_classes = len(np.asarray(results['gt_label']).reshape(-1)) + 1
        seed = load_label(path, num_classes, what='seed label')
        if seed.shape != tuple(results['img'].shape[:2]):
            raise ValueError(f'LoadSeedLabels: seed label "{path}" is {seed.shape} but image '
                             f'"{results["img_path"]}" is {results["img"].shape[:2]}; seeds '
                             'are made at the original image size, before any resize.')
        results['gt_seg_map'] = seed.astype(np.uint8)
        seg_fields = results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in seg_fields:
            seg_fields.append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(seed_dir={self.seed_dir!r})'
