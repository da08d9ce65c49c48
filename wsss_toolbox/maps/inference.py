"""Stage 2a: localization-map inference with test-time augmentation.

For every image the classifier runs on rescaled copies (``scales``, factors of the original
size) and, with ``flip=True``, on their horizontal mirrors. Each prediction is flipped back,
resized to the original image size and fused per class (``fuse='sum'`` as IRN/SEAM do for
multi-scale CAMs, or ``'max'``). The fused map of every class the image carries is divided by
its maximum (OAA Eq. 2 applied after fusion) and written as one map file (:mod:`.io`).

The run is resumable (images whose map file exists are skipped) and shares the images among
distributed ranks (``torchrun``) by striding, so N processes write disjoint files.
"""
import os.path as osp
from typing import Dict, List, Sequence

import mmcv
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.dist import get_dist_info
from mmengine.utils import ProgressBar

from wsss_toolbox.structures import WSSSDataSample
from .io import map_path, save_maps


def _augmented_inputs(image: np.ndarray, scales: Sequence[float],
                      flip: bool) -> List[tuple]:
    """``(CHW uint8 tensor, flipped)`` for every scale (and its mirror)."""
    views = []
    for scale in scales:
        scaled = image if scale == 1 else mmcv.imrescale(image, float(scale),
                                                         interpolation='bilinear')
        views.append((scaled, False))
        if flip:
            views.append((mmcv.imflip(scaled, direction='horizontal'), True))
    return [(torch.from_numpy(np.ascontiguousarray(view.transpose(2, 0, 1))), flipped)
            for view, flipped in views]


@torch.no_grad()
def infer_image_maps(model: torch.nn.Module, image: np.ndarray, scales: Sequence[float] = (1.0, ),
                     flip: bool = True, fuse: str = 'sum') -> torch.Tensor:
    """Fused (C, H, W) localization maps of all classes for one BGR image, not normalised."""
    if fuse not in ('sum', 'max'):
        raise ValueError(f"fuse must be 'sum' or 'max', got {fuse!r}")
    height, width = image.shape[:2]
    views = _augmented_inputs(image, scales, flip)
    samples = [WSSSDataSample(metainfo=dict(img_shape=tuple(view.shape[-2:]),
                                            ori_shape=(height, width), flip=flipped))
               for view, flipped in views]
    results = model.test_step(dict(inputs=[view for view, _ in views], data_samples=samples))
    fused = None
    for result in results:
        maps = result.pred_maps.float()
        if result.metainfo['flip']:
            maps = maps.flip(-1)
        maps = F.interpolate(maps[None], size=(height, width), mode='bilinear',
                             align_corners=False)[0]
        if fused is None:
            fused = maps
        elif fuse == 'sum':
            fused = fused + maps
        else:
            fused = torch.maximum(fused, maps)
    return fused.clamp_(min=0)


def normalise_class_maps(maps: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Divide each class map by its maximum (OAA Eq. 2 after ReLU), giving values in [0, 1]."""
    peak = maps.flatten(1).max(dim=1).values.clamp(min=eps)
    return maps / peak[:, None, None]


def infer_maps(model: torch.nn.Module,
               samples: Sequence[Dict],
               out_dir: str,
               scales: Sequence[float] = (1.0, ),
               flip: bool = True,
               fuse: str = 'sum',
               overwrite: bool = False) -> Dict[str, int]:
    """Write the map file of every sample that has none yet.

    Args:
        model: a stage-1 classifier (``WSSSClassifier`` or anything whose ``test_step``
            fills ``pred_maps`` at the input resolution).
        samples: dataset items (``img_path``, ``img_id``, ``gt_label``), e.g.
            ``[dataset.get_data_info(i) for i in range(len(dataset))]``.
        out_dir: folder of the ``<img_id>.npz`` files.
        scales, flip, fuse: test-time augmentation, see :func:`infer_image_maps`.
        overwrite: recompute files that already exist.

    Returns:
        ``dict(written=..., skipped=...)`` counts of this rank.
    """
    rank, world_size = get_dist_info()
    model.eval()
    mine = list(samples)[rank::world_size]
    progress = ProgressBar(len(mine)) if rank == 0 and len(mine) else None
    written = skipped = 0
    for sample in mine:
        target = map_path(out_dir, sample['img_id'])
        if not overwrite and osp.exists(target):
            skipped += 1
        else:
            image = mmcv.imread(sample['img_path'], channel_order='bgr')
            if image is None:
                raise FileNotFoundError(
                    f"image {sample['img_path']!r} is missing or unreadable")
            classes = np.flatnonzero(np.asarray(sample['gt_label']) > 0)
            maps = infer_image_maps(model, image, scales, flip, fuse)
            if maps.shape[0] != len(sample['gt_label']):
                raise ValueError(
                    f'the model predicts {maps.shape[0]} classes but the dataset has '
                    f"{len(sample['gt_label'])}: check model.head.num_classes")
            selected = normalise_class_maps(maps[torch.from_numpy(classes)])
            save_maps(target, sample['img_id'], classes, selected.cpu().numpy())
            written += 1
        if progress is not None:
            progress.update()
    if progress is not None:
        print()
    return dict(written=written, skipped=skipped)
