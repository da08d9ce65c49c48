"""MCIS localization maps (paper Sec. 3.4; authors' test script GuoleiSun/MCIS_wsss,
Classifier/scripts/test.py L71-109, L123-230): single-round, multi-round with related images,
and the authors' 5-map fusion.

* ``'single_round'``: ``L_n = ReLU(S_n)`` of the basic branch (the image alone).
* ``'multi_round'`` (Sec. 3.4): for every class ``k`` of image ``n``,
  ``L_{n,k} = ReLU(1/|R| sum_r S_{n,k}^{n∩r})`` over ``|R|`` related images labelled ``k``
  (drawn with replacement, the image itself allowed, from ``(seed, image index, k)``); the
  contrastive branch is not used. ``num_related=0`` is single-round (Table 5's "0").
* ``'fusion'`` (authors' test script, the default): per class, 5 maps at feature size --
  (1) the co-attention map of ``I`` in the pair ``(I, flip I)``, (2) that of ``flip I`` in the
  same pair, flipped back, (3)/(4) that of ``I`` at 0.75x / 2x in the pair with ``I``, resized
  bicubically to the feature size, (5) the related-image average above -- each ReLU'd and
  scaled to ``255 / max``; map 1 is always summed, maps 2-5 only where
  ``sigmoid(mean of the map before ReLU) > 0.1``; the sum is divided by 5 (always), cast to
  uint8 (truncation) and resized bicubically to the image size: ``fusion_resize='cv2_uint8'``
  (default) resizes the uint8 map with OpenCV's bicubic, whose output is rounded to uint8
  (test.py L105), ``'float'`` keeps the resized values unrounded (the toolbox before this
  option; 0-1 grey level apart).

Every written map is finally divided by its maximum, as every map file of the toolbox (the
saliency-guided labels min-max normalise the maps anyway). Images are resized to
``input_size`` first (authors: 256 x 256); without it related images are resized to the
anchor's size. Ranks take ``samples[rank::world_size]``; related images come from all samples.
"""
import math
import os.path as osp
import time
import warnings
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import cv2
import mmcv
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.dist import get_dist_info
from mmengine.utils import ProgressBar
from torch import Tensor

from wsss_toolbox.datasets.samplers.class_pair_sampler import seed_sequence
from wsss_toolbox.maps.inference import MAP_NORMALIZE_EPS, load_partner_lists
from wsss_toolbox.maps.io import map_path, save_maps
from wsss_toolbox.maps.normalize import normalize_maps
from wsss_toolbox.utils import check_choice

MODES = ('fusion', 'multi_round', 'single_round')
#: final resize of the fused map: the authors' cv2 bicubic of the uint8 map, or a float one
FUSION_RESIZES = ('cv2_uint8', 'float')
#: a fused map (2-5) counts where sigmoid(mean before ReLU) exceeds this (authors' script)
FUSION_GATE = 0.1
#: the authors' fusion always divides by 5 (the number of maps), whichever are kept
FUSION_DIVISOR = 5
#: scales of the self-pair maps 3 and 4 (192 and 512 pixels for a 256 input)
FUSION_SCALES = (0.75, 2.0)

RelatedSource = Union[None, str, Mapping[str, Sequence]]


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f'MCIS map inference mode must be one of {MODES}, got {mode!r}')
    return mode


def check_fusion_resize(fusion_resize: str) -> str:
    return check_choice('MCIS map inference fusion_resize', fusion_resize, FUSION_RESIZES)


def sample_related_images(labels: np.ndarray, anchor: int, classes: Sequence[int],
                          num_related: int, seed: int = 0) -> Dict[int, List[int]]:
    """``class k -> num_related`` indices of images labelled ``k`` (with replacement, the
    anchor allowed, after the authors' ``random.choices``, utils/LoadData.py L96),
    deterministic from ``(seed, anchor, k)`` whatever the rank or the order of the anchors."""
    related = {}
    for k in classes:
        members = np.flatnonzero(labels[:, int(k)])
        if len(members) == 0:
            raise ValueError(f'no image is labelled with class {k}, which image {anchor} '
                             'carries')
        rng = seed_sequence(seed, anchor, int(k))
        related[int(k)] = members[rng.integers(0, len(members), size=num_related)].tolist()
    return related


def listed_related_images(related: RelatedSource, samples: Sequence[Dict], labels: np.ndarray,
                          anchor: int, classes: Sequence[int],
                          index_of: Dict[str, int]) -> Dict[int, List[int]]:
    """Related images from a listing ``img_id -> [ids]`` (a dict or JSON file); for class
    ``k`` the listed images labelled ``k`` count. Unknown ids and classes with no listed
    image are errors naming the image."""
    img_id = samples[anchor]['img_id']
    if img_id not in related:
        raise ValueError(f'the related-image lists have no entry for image {img_id!r}')
    ids = [partner for ids in related[img_id] for partner in ids]
    unknown = [partner for partner in ids if partner not in index_of]
    if unknown:
        raise ValueError(f'related images {unknown} of image {img_id!r} are not among the '
                         f'{len(samples)} samples')
    indices = [index_of[partner] for partner in ids]
    result = {}
    for k in classes:
        result[int(k)] = [i for i in indices if labels[i, int(k)]]
        if not result[int(k)]:
            raise ValueError(f'none of the related images {ids} of image {img_id!r} carries '
                             f'its class {int(k)}; list at least one per class')
    return result


def _resize(image: np.ndarray, size: Optional[Tuple[int, int]]) -> np.ndarray:
    if size is None or tuple(image.shape[:2]) == tuple(size):
        return image
    return mmcv.imresize(image, (int(size[1]), int(size[0])), interpolation='bilinear')


def image_features(model, images: Sequence[np.ndarray]) -> Dict[str, Tensor]:
    """The head's basic branch (``features``, ``cams``) of same-size BGR images, cropped to
    the cells the images cover (batch padding removed)."""
    tensors = [torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
               for image in images]
    inputs = model.data_preprocessor(dict(inputs=tensors, data_samples=None), False)['inputs']
    outputs = model.head.image_branch(model.extract_feat(inputs))
    height, width = images[0].shape[:2]
    pad_h, pad_w = inputs.shape[-2:]
    cells_h, cells_w = outputs['features'].shape[-2:]
    valid_h = min(cells_h, math.ceil(cells_h * height / pad_h))
    valid_w = min(cells_w, math.ceil(cells_w * width / pad_w))
    return {key: outputs[key][..., :valid_h, :valid_w] for key in ('features', 'cams')}


def fuse_authors_maps(maps: Sequence[Tensor], gate: float = FUSION_GATE,
                      divisor: int = FUSION_DIVISOR) -> Tensor:
    """The authors' per-class fusion of (K, h, w) raw maps into uint8-valued (K, h, w).

    Map 0 is always kept; map i > 0 of class k only if ``sigmoid(mean(maps[i][k])) > gate``
    (mean before ReLU). Each kept map is ``ReLU`` / max x 255; the sum is divided by
    ``divisor`` and truncated to an integer (their uint8 cast).
    """
    total = torch.zeros_like(maps[0])
    for position, raw in enumerate(maps):
        scaled = normalize_maps(F.relu(raw), 'max', eps=1e-12) * 255
        if position > 0:
            keep = torch.sigmoid(raw.mean(dim=(-2, -1))) > gate
            scaled = scaled * keep[:, None, None].to(scaled.dtype)
        total = total + scaled
    return torch.floor(total / divisor).clamp_(0, 255)


def _bicubic(maps: Tensor, size: Tuple[int, int]) -> Tensor:
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(maps[None], size=size, mode='bicubic', align_corners=False)[0]


def resize_fused_maps(fused: Tensor, size: Tuple[int, int],
                      fusion_resize: str = 'cv2_uint8') -> Tensor:
    """(K, h, w) fused maps (integers 0-255) -> (K, H, W) values in [0, 255].

    ``'cv2_uint8'``: each class map as uint8 through ``cv2.resize(..., INTER_CUBIC)``, whose
    uint8 output is rounded and saturated (authors: test.py L83, L105); ``'float'``: PyTorch's
    bicubic on floats, clamped to [0, 255], not rounded.
    """
    check_fusion_resize(fusion_resize)
    height, width = int(size[0]), int(size[1])
    if fusion_resize == 'float':
        return _bicubic(fused, (height, width)).clamp_(0, 255)
    planes = fused.detach().cpu().numpy().astype(np.uint8)
    resized = [cv2.resize(plane, (width, height), interpolation=cv2.INTER_CUBIC)
               for plane in planes]
    return torch.from_numpy(np.stack(resized)).to(device=fused.device, dtype=fused.dtype)


@torch.no_grad()
def mcis_image_maps(model, image: np.ndarray, related: Dict[int, List[np.ndarray]],
                    mode: str = 'fusion',
                    input_size: Optional[Tuple[int, int]] = None,
                    fusion_resize: str = 'cv2_uint8') -> Tensor:
    """(C, H, W) non-negative maps of one BGR image at its original size (see module doc);
    only the classes in ``related`` (the image's classes) are filled, the rest are 0.

    ``related``: class k -> BGR related images labelled k (empty lists: no map 5).
    ``fusion_resize``: the fused map's final resize (``mode='fusion'`` only; see
    :func:`resize_fused_maps`).
    """
    check_mode(mode)
    check_fusion_resize(fusion_resize)
    height, width = image.shape[:2]
    anchor = _resize(image, input_size)
    size = anchor.shape[:2]
    related_images = [(k, _resize(other, size)) for k, others in related.items()
                      for other in others]
    views = [anchor]
    if mode == 'fusion':
        views.append(mmcv.imflip(anchor, direction='horizontal'))
    if mode != 'single_round':
        views += [other for _, other in related_images]
    base = image_features(model, views)
    features, cams = base['features'], base['cams']
    cells = tuple(features.shape[-2:])
    maps = torch.zeros_like(cams[0])
    classes = torch.tensor(sorted(related), dtype=torch.long, device=cams.device)
    first_related = 2 if mode == 'fusion' else 1
    related_average = None
    if mode != 'single_round' and related_images:
        rel = features[first_related:]
        co = model.head.pair_branches(features[:1].expand(len(rel), -1, -1, -1),
                                      rel)['co_cams_m']  # S_n^{n∩r}, (R_total, C, h, w)
        owner = torch.tensor([k for k, _ in related_images], device=co.device)
        related_average = torch.zeros_like(cams[0])
        for k in related:
            rows = owner == k
            related_average[k] = co[rows, k].mean(0)
    if mode == 'single_round' or (mode == 'multi_round' and related_average is None):
        maps = F.relu(cams[0])
    elif mode == 'multi_round':
        maps = F.relu(related_average)
    else:
        pair = model.head.pair_branches(features[:1], features[1:2])
        fused_inputs = [pair['co_cams_m'][0], pair['co_cams_n'][0].flip(-1)]
        for scale in FUSION_SCALES:
            scaled = _resize(anchor, (max(1, round(size[0] * scale)),
                                      max(1, round(size[1] * scale))))
            other = image_features(model, [scaled])['features']
            co = model.head.pair_branches(features[:1], other)['co_cams_n'][0]
            fused_inputs.append(_bicubic(co, cells))
        if related_average is not None:
            fused_inputs.append(related_average)
        fused = fuse_authors_maps([m[classes] for m in fused_inputs])
        full = resize_fused_maps(fused, (height, width), fusion_resize) / 255
        maps = torch.zeros((cams.shape[1], height, width), dtype=full.dtype,
                           device=full.device)
        maps[classes] = full
        return maps
    return F.interpolate(maps[None], size=(height, width), mode='bilinear',
                         align_corners=False)[0].clamp_(min=0)


def _read_bgr(path: str) -> np.ndarray:
    image = mmcv.imread(path, channel_order='bgr')
    if image is None:
        raise FileNotFoundError(f'image {path!r} is missing or unreadable')
    return image


def infer_mcis_maps(model: torch.nn.Module,
                    samples: Sequence[Dict],
                    out_dir: str,
                    mode: str = 'fusion',
                    num_related: int = 3,
                    related_seed: int = 0,
                    related: RelatedSource = None,
                    input_size: Optional[Sequence[int]] = None,
                    fusion_resize: str = 'cv2_uint8',
                    overwrite: bool = False) -> Dict[str, float]:
    """Write the MCIS map file of every sample (resumable, rank-split).

    Args:
        model: an :class:`MCISClassifier` (or any classifier with an :class:`MCISHead`).
        samples: dataset items (``img_path``, ``img_id``, ``gt_label``).
        out_dir: folder of the ``<img_id>.npz`` map files.
        mode: ``'fusion'`` (authors), ``'multi_round'`` (paper) or ``'single_round'``.
        num_related: |R| related images per class (paper and code: 3).
        related_seed: seed of the related images (deterministic per ``(seed, image, class)``).
        related: listed related images instead, ``img_id -> [ids]`` (dict or JSON file).
        input_size: (h, w) every image is resized to (authors: (256, 256)); None: as is.
        fusion_resize: final resize of the fused map (``'fusion'`` only): ``'cv2_uint8'``
            (authors, rounded to uint8) or ``'float'`` (see :func:`resize_fused_maps`).
        overwrite: recompute existing files.

    Returns:
        ``dict(written, skipped, seconds)`` of this rank (``seconds``: inference time).
    """
    check_mode(mode)
    check_fusion_resize(fusion_resize)
    if num_related < 0:
        raise ValueError(f'num_related must be >= 0, got {num_related}')
    if not hasattr(getattr(model, 'head', None), 'pair_branches'):
        raise TypeError(f'MCIS map inference needs a classifier with an MCISHead, got '
                        f'{type(getattr(model, "head", model)).__name__}')
    samples = list(samples)
    labels = np.stack([np.asarray(sample['gt_label']) > 0 for sample in samples])
    index_of = {sample['img_id']: i for i, sample in enumerate(samples)}
    listed = None if related is None else load_partner_lists(related)
    lonely = np.flatnonzero(labels.sum(axis=0) == 1)
    if mode != 'single_round' and len(lonely) and listed is None and num_related:
        images = [samples[int(np.flatnonzero(labels[:, k])[0])]['img_id'] for k in lonely]
        warnings.warn(f'classes {lonely.tolist()} have a single image ({images[:10]}): its '
                      'related images for that class are itself', stacklevel=2)
    size = None if input_size is None else (int(input_size[0]), int(input_size[1]))
    rank, world_size = get_dist_info()
    model.eval()
    mine = range(len(samples))[rank::world_size]
    progress = ProgressBar(len(mine)) if rank == 0 and len(mine) else None
    written = skipped = 0
    seconds = 0.0
    for index in mine:
        sample = samples[index]
        target = map_path(out_dir, sample['img_id'])
        if not overwrite and osp.exists(target):
            skipped += 1
        else:
            classes = np.flatnonzero(labels[index])
            start = time.perf_counter()
            image = _read_bgr(sample['img_path'])
            if mode == 'single_round' or (num_related == 0 and listed is None):
                chosen = {int(k): [] for k in classes}
            elif listed is not None:
                chosen = listed_related_images(listed, samples, labels, index, classes,
                                               index_of)
            else:
                chosen = sample_related_images(labels, index, classes, num_related,
                                               related_seed)
            related_images = {k: [_read_bgr(samples[i]['img_path']) for i in ids]
                              for k, ids in chosen.items()}
            maps = mcis_image_maps(model, image, related_images, mode, size, fusion_resize)
            if maps.shape[0] != labels.shape[1]:
                raise ValueError(f'the model predicts {maps.shape[0]} classes but the dataset '
                                 f'has {labels.shape[1]}: check model.head.num_classes')
            selected = normalize_maps(maps[torch.from_numpy(classes)], 'max',
                                      eps=MAP_NORMALIZE_EPS).cpu().numpy()
            seconds += time.perf_counter() - start
            save_maps(target, sample['img_id'], classes, selected)
            written += 1
        if progress is not None:
            progress.update()
    if progress is not None:
        print()
    return dict(written=written, skipped=skipped, seconds=seconds)

