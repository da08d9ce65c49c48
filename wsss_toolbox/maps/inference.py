"""Stage 2a: localization-map inference with test-time augmentation.

For every image the classifier runs on rescaled copies (``scales``, factors of the original
size) and, with ``flip=True``, on their horizontal mirrors. Each prediction is flipped back,
resized to the original image size and fused per class: ``fusion='mean'`` or ``'max'``
(``'mean'`` is the views' sum divided by their number, a factor that the normalisation removes:
tests/maps/test_inference.py). The fused map of every class the image carries is divided by
its maximum (:func:`~wsss_toolbox.maps.normalize.normalize_maps`, ``mode='max'``,
``eps=1e-5``: OAA Eq. 2 applied after fusion) and written as one map file (:mod:`.io`).

**Aggregation.** The above is ``aggregation='image_grid'`` (the default): every view is resized
to the image before the flip and the fusion, and the strided maps come from the fused
full-size map. ``aggregation='feature_grid'`` is IRN's and RPNet's ``make_cam`` instead
(:mod:`.feature_grid`): the mirror is flipped back on the feature grid and added, each
scale's sum is resized once to the strided size and once to the image, the scales are summed,
and each kind is divided by its own maximum + 1e-5 (tests/maps/test_feature_grid.py
transcribes IRN's lines). The two rules differ most near narrow peaks: a mirrored view's cells
are flipped before, not after, the resize, the full-size maps come from the strided-up size
cropped (not from a resize to the image), and the strided maps are resized from the feature
grid rather than from the full-size map. ``feature_grid`` sums the views
(``fusion='mean'`` only) and runs single images (no partners, no ``pad_views``).

**Flip pairs.** Every view's data sample carries the metainfo ``flip_pair_id``, shared by a
view and its mirror (unique per image and scale within one call). A model whose head asks for
it (``model.head.needs_flip_pairs``, e.g. RPNet's non-local blocks with batch statistics of
[image, mirror], after the authors' make_cam; written out by hand in
``tests/methods/rpnet/test_rpnet_inference_bn.py::test_flip_pair_batch_statistics_by_hand``)
gets every view and its mirror in the same forward.

**Groups (cross-image methods: MCIS, RPNet).** With partners, every view (scale x flip) of the
anchor goes through ``model.test_step`` together with the same view of its partner images, as
one group laid out as :func:`~wsss_toolbox.datasets.group_collate` lays out a training batch:
the views' groups one after another, each ``[anchor, partner_1, ...]``, every data sample
carrying the metainfo ``group_position`` (0 = anchor), ``group_size``, ``group_anchor`` (the
anchor's index in ``samples``) and ``img_id``. Only the anchor's ``pred_maps`` are kept.
Partners are either listed (``partners=``: a dict or a JSON file ``img_id -> [partner ids]``,
or ``img_id -> [[ids of round 1], [ids of round 2], ...]``) or drawn (``num_partners=``:
images sharing a class with the anchor, as :class:`~wsss_toolbox.datasets.ClassPairSampler`
draws them, deterministic for ``(partner_seed, anchor index)``). With ``rounds`` R > 1 the
anchor goes through R groups with different partners; its fused maps are averaged over the
rounds before the normalisation.

**Strided maps.** ``stride=s`` also writes ``strided_maps`` of size ceil(H/s) x ceil(W/s)
(IRN's random walk works at stride 4). With the image grid, the fused, not yet normalised
maps are resized bilinearly to that size and each class map is then divided by its own
maximum (IRN also normalises its strided CAMs separately, by max + 1e-5: so every strided map
with a positive peak reaches about 1, which the background thresholds of the random walk
assume; a downsampled narrow peak would otherwise stay below 1). With the feature grid they
are resized from each scale's feature-grid sum (**Aggregation** above).

**Batching.** Without partners, views of the same size go through ``model.test_step``
together: all views (scales x flip) of a chunk of ``batch_images`` images are sorted by size,
and each size's views run as batches of at most ``batch_pixels`` input pixels (by default
256 x 256 on the CPU, where large views gain nothing from batching, 16 x 512 x 512 on a
GPU). A batch therefore never pads a view (every view has the size it would have alone, up
to the model's own ``pad_size_divisor``): the maps equal those of one forward per view
(IRN's loop) up to float noise. With partners, each view's group is one ``test_step`` as
described above.

(This module keeps the inference loop, its batching and the partner groups together: they
share the view layout; the feature-grid arithmetic is in :mod:`.feature_grid`.)

The run is resumable (images whose map file exists are skipped) and shares the images among
distributed ranks (``torchrun``) by striding, so N processes write disjoint files.
"""
import json
import os.path as osp
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.runner.amp import autocast
from mmengine.utils import ProgressBar

from wsss_toolbox.evaluation.degenerate import (
    empty_maps_text,
    maps_are_empty,
    warn_if_degenerate,
)
from wsss_toolbox.structures import WSSSDataSample
from wsss_toolbox.utils import check_choice

from .feature_grid import feature_grid_sums, normalize_by_max, resize_maps, selected_view_maps
from .io import DEFAULT_MAP_DTYPE, check_map_dtype, map_path, save_maps, strided_shape
from .normalize import normalize_maps

FUSIONS = ('mean', 'max')
#: ``'image_grid'``: views resized to the image, then flipped back and fused (the toolbox's
#: rule); ``'feature_grid'``: IRN/RPNet's make_cam (module docstring, :mod:`.feature_grid`)
AGGREGATIONS = ('image_grid', 'feature_grid')
#: default input pixels per batched forward on a GPU (16 views of 512 x 512)
DEFAULT_BATCH_PIXELS = 16 * 512 * 512
#: ... and on the CPU, where a convolution is already compute-bound at one large view and
#: batching pays only for small views (measured on the tiny CAM model: 64 x 64 views 2.4x
#: faster in batches of 8, 256 x 256 views slower in batches of 4)
DEFAULT_CPU_BATCH_PIXELS = 256 * 256
#: default images whose views are batched together
DEFAULT_BATCH_IMAGES = 8
# divisor floor of the per-class max normalisation of the written maps
MAP_NORMALIZE_EPS = 1e-5

PartnerSource = Union[None, str, Mapping[str, Sequence]]


def check_fusion(fusion: str) -> str:
    """Raise a clear error unless ``fusion`` is one of :data:`FUSIONS`."""
    if fusion not in FUSIONS:
        hint = " ('sum' is now 'mean': same maps after the normalisation)" \
            if fusion == 'sum' else ''
        raise ValueError(f'fusion must be one of {FUSIONS}, got {fusion!r}{hint}')
    return fusion


def check_aggregation(aggregation: str) -> str:
    """Raise a clear error unless ``aggregation`` is one of :data:`AGGREGATIONS`."""
    return check_choice('aggregation', aggregation, AGGREGATIONS)


def model_needs_flip_pairs(model: torch.nn.Module) -> bool:
    """Whether ``model.head.needs_flip_pairs``: every view must share its forward with its
    mirror (e.g. RPNet's non-local blocks with the batch statistics of the pair)."""
    return bool(getattr(getattr(model, 'head', None), 'needs_flip_pairs', False))


def _flip_pair_id(view_index: int, flip: bool, offset: int = 0) -> int:
    """The id shared by a view and its mirror (views come as view, mirror per scale)."""
    return offset + (view_index // 2 if flip else view_index)


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


def _with_label(sample: WSSSDataSample, gt_label) -> WSSSDataSample:
    if gt_label is not None:
        sample.gt_label = torch.as_tensor(np.asarray(gt_label), dtype=torch.float32)
    return sample


def _view_batch(image: np.ndarray, scales: Sequence[float], flip: bool,
                partner_images: Sequence[np.ndarray], group: Optional[dict],
                gt_labels: Optional[Sequence] = None) -> dict:
    """The ``test_step`` batch of one image's views, each view grouped with its partners.

    ``gt_labels`` (the image's multi-hot label, then its partners', as ``group``'s ids) go
    into the views' data samples for heads whose forward reads the labels (SeeNet).
    """
    height, width = image.shape[:2]
    views = _augmented_inputs(image, scales, flip)
    labels = list(gt_labels) if gt_labels is not None else [None] * (1 + len(partner_images))
    if group is None:
        samples = [_with_label(WSSSDataSample(metainfo=dict(
            img_shape=tuple(view.shape[-2:]), ori_shape=(height, width), flip=flipped,
            flip_pair_id=_flip_pair_id(index, flip))), labels[0])
            for index, (view, flipped) in enumerate(views)]
        return dict(inputs=[view for view, _ in views], data_samples=samples)
    members = [(image, group['img_ids'][0])] + list(zip(partner_images, group['img_ids'][1:]))
    member_views = [views] + [_augmented_inputs(partner, scales, flip)
                              for partner, _ in members[1:]]
    inputs, samples = [], []
    for view_index in range(len(views)):
        for position, ((member, img_id), member_view) in enumerate(zip(members, member_views)):
            tensor, flipped = member_view[view_index]
            inputs.append(tensor)
            samples.append(_with_label(WSSSDataSample(metainfo=dict(
                img_shape=tuple(tensor.shape[-2:]), ori_shape=member.shape[:2], flip=flipped,
                img_id=img_id, group_position=position, group_size=len(members),
                group_anchor=group['anchor'],
                flip_pair_id=_flip_pair_id(view_index, flip, position * len(views)))),
                labels[position]))
    return dict(inputs=inputs, data_samples=samples)


def _size_batches(shapes: Sequence[Tuple[int, int]], batch_pixels: int,
                  unit: int = 1) -> List[List[int]]:
    """Indices of ``shapes`` grouped by size, each group cut into batches of at most
    ``batch_pixels`` pixels (at least one view per batch); first-seen size first.

    ``unit=2``: batches hold whole pairs of consecutive same-size indices (a view and its
    mirror), at least one pair even beyond ``batch_pixels``."""
    by_size: Dict[Tuple[int, int], List[int]] = {}
    for index, shape in enumerate(shapes):
        by_size.setdefault(tuple(shape), []).append(index)
    batches = []
    for (height, width), indices in by_size.items():
        per_batch = max(1, int(batch_pixels) // max(1, height * width))
        per_batch = max(unit, per_batch - per_batch % unit)
        batches.extend(indices[start:start + per_batch]
                       for start in range(0, len(indices), per_batch))
    return batches


def default_batch_pixels(model: torch.nn.Module) -> int:
    """:data:`DEFAULT_CPU_BATCH_PIXELS` for a model on the CPU, else
    :data:`DEFAULT_BATCH_PIXELS`."""
    on_cpu = model_device_type(model) == 'cpu'
    return DEFAULT_CPU_BATCH_PIXELS if on_cpu else DEFAULT_BATCH_PIXELS


def model_device_type(model: torch.nn.Module) -> str:
    """``'cuda'`` or ``'cpu'``: where the model's parameters are (no parameter: CPU)."""
    parameter = next(iter(model.parameters()), None) if hasattr(model, 'parameters') else None
    return 'cpu' if parameter is None else parameter.device.type


def _test_step(model: torch.nn.Module, batch: dict, amp: bool = False) -> list:
    """``model.test_step(batch)``, with ``amp`` in mixed precision (mmengine's ``autocast``:
    float16 on a GPU, bfloat16 on the CPU; the maps are used as float32 afterwards)."""
    if not amp:
        return model.test_step(batch)
    with autocast(device_type=model_device_type(model), enabled=True):
        return model.test_step(batch)


def _forward_same_size(model: torch.nn.Module, inputs: Sequence[torch.Tensor],
                       samples: Sequence[WSSSDataSample],
                       batch_pixels: Optional[int] = None, amp: bool = False,
                       unit: int = 1) -> list:
    """``model.test_step`` results of every view, in the order given; views of the same size
    share the forwards (:func:`_size_batches`; ``batch_pixels`` None: by the device;
    ``unit=2``: a view and its mirror, consecutive, always share one)."""
    if batch_pixels is None:
        batch_pixels = default_batch_pixels(model)
    results = [None] * len(inputs)
    for indices in _size_batches([tuple(view.shape[-2:]) for view in inputs], batch_pixels,
                                 unit):
        outputs = _test_step(model, dict(inputs=[inputs[i] for i in indices],
                                         data_samples=[samples[i] for i in indices]), amp)
        for index, output in zip(indices, outputs):
            results[index] = output
    return results


def _fuse_views(results: Sequence, height: int, width: int, fusion: str,
                classes: Optional[np.ndarray] = None
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Flip back, resize to (height, width) and fuse the views' ``pred_maps`` in order;
    ``classes``: only these class maps are resized and fused (the same values as selecting
    them afterwards, without resizing the others)."""
    fused = None
    scores = []
    keep = None if classes is None else torch.from_numpy(np.asarray(classes, dtype=np.int64))
    for result in results:
        maps = selected_view_maps(result, result.pred_maps, keep)
        if result.metainfo['flip']:
            maps = maps.flip(-1)
        maps = resize_maps(maps, (height, width))
        if fused is None:
            fused = maps
        elif fusion == 'mean':
            fused = fused + maps
        else:
            fused = torch.maximum(fused, maps)
        if 'pred_scores' in result:
            scores.append(result.pred_scores.float())
    mean_scores = torch.stack(scores).mean(0) if len(scores) == len(results) else None
    return fused.clamp_(min=0), mean_scores


@torch.no_grad()
def fused_maps_of_images(model: torch.nn.Module, images: Sequence[np.ndarray],
                         scales: Sequence[float], flip: bool, fusion: str,
                         gt_labels: Optional[Sequence] = None,
                         batch_pixels: Optional[int] = None,
                         pad_views: bool = False, amp: bool = False,
                         classes: Optional[Sequence[np.ndarray]] = None
                         ) -> List[Tuple[torch.Tensor, Optional[torch.Tensor]]]:
    """:func:`fused_maps_and_scores` of several images (no partners) at once: the views of
    all images go through the network in batches of one size (module docstring).

    ``pad_views=True``: instead, all views of an image go through one batch, padded to its
    largest view (the toolbox before the size batching; with several scales the maps near
    the bottom and right borders differ from one forward per view). ``amp``: forwards in
    mixed precision (:func:`_test_step`). ``classes``: per image, the class indices whose
    maps are fused (None: all classes).

    Returns:
        per image ``(maps (C, H, W) or (K, H, W) of classes, scores (C,) or None)``.
    """
    check_fusion(fusion)
    labels = [None] * len(images) if gt_labels is None else list(gt_labels)
    keep = [None] * len(images) if classes is None else list(classes)
    if pad_views:
        return [_fuse_views(_test_step(model, _view_batch(image, scales, flip, (), None,
                                                          [label]), amp),
                            *image.shape[:2], fusion, kept)
                for image, label, kept in zip(images, labels, keep)]
    per_image = _image_view_results(model, images, scales, flip, labels, batch_pixels, amp)
    return [_fuse_views(views, *image.shape[:2], fusion, kept)
            for views, image, kept in zip(per_image, images, keep)]


def _image_view_results(model: torch.nn.Module, images: Sequence[np.ndarray],
                        scales: Sequence[float], flip: bool, labels: Sequence,
                        batch_pixels: Optional[int], amp: bool,
                        feature_grid: bool = False) -> List[list]:
    """Per image, the ``test_step`` results of its views (scale after scale, each view then
    its mirror), batched by size; ``feature_grid``: the samples ask for the maps on the
    feature grid (metainfo ``pred_on_feature_grid``)."""
    inputs, samples, owners = [], [], []
    views_per_image = len(scales) * (2 if flip else 1)
    for index, image in enumerate(images):
        height, width = image.shape[:2]
        for view_index, (view, flipped) in enumerate(_augmented_inputs(image, scales, flip)):
            metainfo = dict(img_shape=tuple(view.shape[-2:]), ori_shape=(height, width),
                            flip=flipped, flip_pair_id=_flip_pair_id(
                                view_index, flip, index * views_per_image))
            if feature_grid:
                metainfo['pred_on_feature_grid'] = True
            inputs.append(view)
            samples.append(_with_label(WSSSDataSample(metainfo=metainfo), labels[index]))
            owners.append(index)
    unit = 2 if flip and model_needs_flip_pairs(model) else 1
    results = _forward_same_size(model, inputs, samples, batch_pixels, amp, unit)
    per_image = [[] for _ in images]
    for owner, result in zip(owners, results):
        per_image[owner].append(result)
    return per_image


@torch.no_grad()
def feature_grid_maps_of_images(model: torch.nn.Module, images: Sequence[np.ndarray],
                                scales: Sequence[float], flip: bool,
                                gt_labels: Optional[Sequence] = None,
                                batch_pixels: Optional[int] = None, amp: bool = False,
                                classes: Optional[Sequence[np.ndarray]] = None,
                                stride: Optional[int] = None
                                ) -> List[Tuple[np.ndarray, Optional[np.ndarray]]]:
    """Normalised maps of several images with ``aggregation='feature_grid'``
    (:mod:`.feature_grid`): per image ``(maps (K, H, W), strided maps or None)``, float32,
    each class divided by its own maximum + 1e-5. Arguments as :func:`fused_maps_of_images`;
    ``stride``: the stride of the strided maps (None: none)."""
    labels = [None] * len(images) if gt_labels is None else list(gt_labels)
    keep = [None] * len(images) if classes is None else list(classes)
    per_image = _image_view_results(model, images, scales, flip, labels, batch_pixels, amp,
                                    feature_grid=True)
    outputs = []
    for views, image, kept in zip(per_image, images, keep):
        maps, strided = feature_grid_sums(views, *image.shape[:2], flip, stride, kept)
        outputs.append((normalize_by_max(maps),
                        None if strided is None else normalize_by_max(strided)))
    return outputs


@torch.no_grad()
def fused_maps_and_scores(
        model: torch.nn.Module, image: np.ndarray, scales: Sequence[float], flip: bool,
        fusion: str, partner_images: Optional[Sequence[np.ndarray]] = None,
        group: Optional[dict] = None,
        gt_labels: Optional[Sequence] = None,
        amp: bool = False,
        classes: Optional[np.ndarray] = None) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Fused (C, H, W) maps of one BGR image and the mean of its views' ``pred_scores``.

    The maps are scale-free: for ``fusion='mean'`` they are the *sum* over the views. The
    per-class max normalisation that follows (:func:`class_maps`) removes the factor, and
    summing keeps the written maps bit-identical to those of the former ``fuse='sum'``
    (dividing first changes a few float16 values). :func:`infer_image_maps` gives the mean.

    Args:
        model, image, scales, flip, fusion, partner_images: see :func:`infer_image_maps`.
        group: ``dict(anchor=index, img_ids=[anchor id, partner ids...])`` for the group
            metainfo; None with partners: anchor 0, no ids.
        gt_labels: multi-hot labels (C,) of the image and then of its partners, given to
            the views' data samples as ``gt_label`` (heads that erase with the labels, e.g.
            SeeNet, need them); None: the data samples carry no label.
        amp: forwards in mixed precision (:func:`_test_step`).
        classes: fuse only these class maps (the maps are then (K, H, W)); None: all.

    Returns:
        ``(maps, scores)``; ``scores`` (C,) is None when the model gives no ``pred_scores``.
    """
    check_fusion(fusion)
    height, width = image.shape[:2]
    if partner_images is None and group is None:
        return fused_maps_of_images(model, [image], scales, flip, fusion,
                                    None if gt_labels is None else gt_labels[:1],
                                    amp=amp, classes=None if classes is None else [classes])[0]
    if partner_images is not None and group is None:
        group = dict(anchor=0, img_ids=[None] * (1 + len(partner_images)))
    batch = _view_batch(image, scales, flip, partner_images or (), group, gt_labels)
    results = _test_step(model, batch, amp)
    if group is not None:
        results = [result for result in results if result.metainfo['group_position'] == 0]
    return _fuse_views(results, height, width, fusion, classes)


def infer_image_maps(model: torch.nn.Module, image: np.ndarray, scales: Sequence[float] = (1.0, ),
                     flip: bool = True, fusion: str = 'mean',
                     partner_images: Optional[Sequence[np.ndarray]] = None) -> torch.Tensor:
    """Fused (C, H, W) localization maps of all classes for one BGR image, not normalized.

    Args:
        model: the classifier (its ``test_step`` fills ``pred_maps`` at ``img_shape``).
        image: BGR uint8 (H, W, 3), as pipelines read images.
        scales, flip: the views; ``fusion``: ``'mean'`` or ``'max'`` over the views.
        partner_images: BGR images that go through every view with the anchor as one group
            (see the module docstring); None: the image alone.
    """
    fused, _ = fused_maps_and_scores(model, image, scales, flip, fusion, partner_images)
    if fusion == 'mean':
        fused = fused / (len(scales) * (2 if flip else 1))
    return fused


def class_maps(fused: torch.Tensor, classes: Optional[np.ndarray],
               stride: Optional[int] = None) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Normalized maps of ``classes`` from fused maps, and their strided maps.

    Args:
        fused: (C, H, W) non-negative fused maps (any positive scale).
        classes: (K,) class indices to keep; None: every map of ``fused`` (already the
            image's classes).
        stride: also return (K, ceil(H / stride), ceil(W / stride)) maps (module docstring).

    Returns:
        ``(maps float32 (K, H, W), strided_maps float32 or None)``, values in [0, 1].
    """
    selected = fused if classes is None else fused[torch.from_numpy(
        np.asarray(classes, dtype=np.int64))]
    maps = normalize_maps(selected, 'max', eps=MAP_NORMALIZE_EPS).cpu().numpy()
    if stride is None:
        return maps, None
    size = strided_shape(*fused.shape[-2:], stride)
    strided = resize_maps(selected, size).clamp_(min=0)
    return maps, normalize_maps(strided, 'max', eps=MAP_NORMALIZE_EPS).cpu().numpy()


def _read_bgr(path: str) -> np.ndarray:
    image = mmcv.imread(path, channel_order='bgr')
    if image is None:
        raise FileNotFoundError(f'image {path!r} is missing or unreadable')
    return image


def load_partner_lists(partners: Union[str, Mapping[str, Sequence]]) -> Dict[str, List[List[str]]]:
    """``img_id -> [[partner ids of round 1], ...]`` from a dict or a JSON file.

    A value that is a list of ids is one round (one group); a list of lists gives one group
    per round.
    """
    where = 'partners'
    if isinstance(partners, str):
        where = f'partner file "{partners}"'
        if not osp.isfile(partners):
            raise FileNotFoundError(f'{where} does not exist')
        with open(partners) as f:
            partners = json.load(f)
    if not isinstance(partners, Mapping):
        raise TypeError(f'{where} must map image ids to partner id lists, got '
                        f'{type(partners).__name__}')
    groups = {}
    for img_id, value in partners.items():
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise ValueError(f'{where}: the partners of {img_id!r} must be a list of image '
                             f'ids or a list of such lists, got {value!r}')
        rounds = [value] if all(isinstance(item, str) for item in value) else value
        if not rounds or not all(
                isinstance(ids, Sequence) and not isinstance(ids, str)
                and all(isinstance(item, str) for item in ids) for ids in rounds):
            raise ValueError(f'{where}: the partners of {img_id!r} must be a list of image '
                             f'ids or a non-empty list of such lists, got {value!r}')
        groups[str(img_id)] = [list(ids) for ids in rounds]
    return groups


def sample_partner_groups(samples: Sequence[Dict], num_partners: int, rounds: int = 1,
                          seed: int = 0, exclude_anchor: bool = False,
                          anchors: Optional[Sequence[int]] = None) -> Dict[str, List[List[str]]]:
    """Partners drawn as :func:`infer_maps` draws them, as ``img_id -> [[ids], ...]``.

    Every partner shares a class with its anchor (an anchor without labels gets random
    partners); the draw of anchor ``i`` (its index in ``samples``) depends only on
    ``(seed, i)`` (:meth:`~wsss_toolbox.datasets.ClassIndex.anchor_partners`). The result can
    be saved as JSON and given back as ``partners=``.
    """
    table = _PartnerTable(samples, None, num_partners, rounds, seed, exclude_anchor)
    indices = range(len(samples)) if anchors is None else anchors
    return {samples[i]['img_id']: [[samples[j]['img_id'] for j in group]
                                   for group in table.groups(i)] for i in indices}


class _PartnerTable:
    """The partner groups (indices into ``samples``) of every anchor, listed or drawn."""

    def __init__(self, samples: Sequence[Dict], partners: PartnerSource, num_partners: int,
                 rounds: int, seed: int, exclude_anchor: bool) -> None:
        if rounds < 1:
            raise ValueError(f'rounds must be >= 1, got {rounds}')
        if num_partners < 0:
            raise ValueError(f'num_partners must be >= 0, got {num_partners}')
        if partners is not None and num_partners:
            raise ValueError('give either partners (listed partners) or num_partners '
                             '(drawn partners), not both')
        if partners is not None and rounds != 1:
            raise ValueError('rounds applies to drawn partners (num_partners); with listed '
                             'partners give one list per round: img_id -> [[...], [...]]')
        self.samples = samples
        self.index_of = {sample['img_id']: index for index, sample in enumerate(samples)}
        self.listed = None if partners is None else load_partner_lists(partners)
        self.num_partners, self.rounds = num_partners, rounds
        self.seed, self.exclude_anchor = seed, exclude_anchor
        self.class_index = None
        if self.listed is None:
            from wsss_toolbox.datasets.samplers.class_pair_sampler import ClassIndex
            self.class_index = ClassIndex(
                np.stack([np.asarray(sample['gt_label']) > 0 for sample in samples]))

    def groups(self, anchor: int) -> List[List[int]]:
        """Per round, the partners (sample indices) of the anchor ``samples[anchor]``."""
        if self.listed is None:
            return self.class_index.anchor_partners(
                anchor, self.num_partners, self.seed, self.rounds,
                self.exclude_anchor).tolist()
        img_id = self.samples[anchor]['img_id']
        if img_id not in self.listed:
            raise ValueError(f'the partner lists have no entry for image {img_id!r}')
        groups = []
        for ids in self.listed[img_id]:
            unknown = [partner for partner in ids if partner not in self.index_of]
            if unknown:
                raise ValueError(f'partners {unknown} of image {img_id!r} are not among the '
                                 'samples')
            groups.append([self.index_of[partner] for partner in ids])
        return groups


def infer_maps(model: torch.nn.Module,
               samples: Sequence[Dict],
               out_dir: str,
               scales: Sequence[float] = (1.0, ),
               flip: bool = True,
               fusion: str = 'mean',
               aggregation: str = 'image_grid',
               overwrite: bool = False,
               partners: PartnerSource = None,
               num_partners: int = 0,
               rounds: int = 1,
               partner_seed: int = 0,
               exclude_anchor: bool = False,
               stride: Optional[int] = None,
               batch_images: int = DEFAULT_BATCH_IMAGES,
               batch_pixels: Optional[int] = None,
               pad_views: bool = False,
               amp: bool = False,
               channels_last: bool = False,
               map_dtype: str = DEFAULT_MAP_DTYPE,
               progress: bool = True) -> Dict[str, Any]:
    """Write the map file of every sample that has none yet.

    Args:
        model: a stage-1 classifier (``WSSSClassifier`` or anything whose ``test_step``
            fills ``pred_maps`` at the input resolution).
        samples: dataset items (``img_path``, ``img_id``, ``gt_label``), e.g.
            ``[dataset.get_data_info(i) for i in range(len(dataset))]``.
        out_dir: folder of the ``<img_id>.npz`` files.
        scales, flip: test-time augmentation views; ``fusion``: ``'mean'`` or ``'max'``.
        aggregation: ``'image_grid'`` (default: views resized to the image, flipped back and
            fused; strided maps from the fused map) or ``'feature_grid'`` (IRN/RPNet's
            make_cam: flip and sum on the feature grid, each scale resized once to the image
            and once to the strided size; module docstring). ``'feature_grid'`` needs
            ``fusion='mean'`` and no partners or ``pad_views``.
        overwrite: recompute files that already exist.
        partners: listed partners, ``img_id -> [ids]`` or ``img_id -> [[ids], ...]`` (one
            group per round), as a dict or the path of a JSON file of one.
        num_partners: draw this many partners per group sharing a class with the anchor.
        rounds: groups per anchor with drawn partners; the fused maps are averaged.
        partner_seed: seed of the drawn partners (anchor ``i`` uses ``(partner_seed, i)``).
        exclude_anchor: never draw the anchor as its own partner (see ``ClassPairSampler``).
        stride: also write ``strided_maps`` at this stride (e.g. 4 for IRN).
        batch_images: without partners, the views of this many images are batched
            together (views of one size share a forward; 1: image by image).
        batch_pixels: at most this many input pixels per batched forward (a view larger
            than that runs alone); None: :func:`default_batch_pixels` (CPU: 256 x 256,
            GPU: 16 x 512 x 512).
        pad_views: without partners, run all views of an image as one batch padded to its
            largest view, as the toolbox did before batching by size (reproduces earlier
            multi-scale maps; see :func:`fused_maps_of_images`).
        amp: run the network in mixed precision (mmengine's ``autocast``: float16 on a GPU,
            bfloat16 on the CPU, where it pays on processors with AVX512-BF16 or AMX). The
            maps then differ from float32 ones by about 1 % of their peak
            (``docs/benchmarks.md``); off by default.
        channels_last: convert the model's weights to the channels-last memory format (in
            place; the convolutions then run channels-last). The same maps up to float
            rounding; it pays together with ``amp`` on the CPU (``docs/benchmarks.md``).
        map_dtype: how the map files store the maps: ``'float16'`` (default) or ``'uint8'``
            (8-bit, about half the size; :func:`~wsss_toolbox.maps.io.save_maps`).
        progress: show an mmengine progress bar (rank 0 only).

    Without ``partners`` and ``num_partners`` each image runs alone. Ranks split the anchors
    (``samples[rank::world_size]``); partners come from all samples. Every view's data
    sample carries its image's ``gt_label`` (heads that erase with the labels read it).

    Returns:
        ``dict(written=..., skipped=..., empty=..., bytes_per_image=..., warnings=[...])`` of
        this rank: ``empty`` counts the written images whose maps are all (near) zero
        (:func:`~wsss_toolbox.evaluation.degenerate.maps_are_empty`); when they are most of
        the written images, ``warnings`` holds the warning that was logged;
        ``bytes_per_image`` is the mean size of this rank's map files (written or skipped).
    """
    check_fusion(fusion)
    check_map_dtype(map_dtype)
    check_aggregation(aggregation)
    if stride is not None and (isinstance(stride, bool) or not isinstance(stride, int)
                               or stride < 1):
        raise ValueError(f'stride must be an integer >= 1 or None, got {stride!r}')
    if num_partners < 0:
        raise ValueError(f'num_partners must be >= 0, got {num_partners}')
    grouped = partners is not None or num_partners > 0
    feature_grid = aggregation == 'feature_grid'
    if feature_grid and fusion != 'mean':
        raise ValueError(f"aggregation='feature_grid' sums the views (IRN/RPNet make_cam.py); "
                         f"fusion={fusion!r} applies to aggregation='image_grid' only: use "
                         "fusion='mean'")
    if feature_grid and grouped:
        raise ValueError("aggregation='feature_grid' runs single images; partners / "
                         "num_partners need aggregation='image_grid'")
    if feature_grid and pad_views:
        raise ValueError("pad_views reproduces earlier image-grid maps; it does not combine "
                         "with aggregation='feature_grid'")
    if rounds != 1 and not grouped:
        raise ValueError('rounds needs partners: set num_partners (or give partners)')
    samples = list(samples)
    table = _PartnerTable(samples, partners, num_partners, rounds, partner_seed,
                          exclude_anchor) if grouped else None
    if batch_images < 1 or (batch_pixels is not None and batch_pixels < 1):
        raise ValueError(f'batch_images and batch_pixels must be >= 1, got {batch_images} and '
                         f'{batch_pixels}')
    rank, world_size = get_dist_info()
    model.eval()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    mine = range(len(samples))[rank::world_size]
    progress = ProgressBar(len(mine)) if progress and rank == 0 and len(mine) else None
    written = skipped = empty = num_bytes = 0
    chunk_size = 1 if table is not None else int(batch_images)
    for chunk_start in range(0, len(mine), chunk_size):
        chunk = mine[chunk_start:chunk_start + chunk_size]
        todo = [index for index in chunk
                if overwrite or not osp.exists(map_path(out_dir, samples[index]['img_id']))]
        skipped += len(chunk) - len(todo)
        num_bytes += sum(osp.getsize(map_path(out_dir, samples[index]['img_id']))
                         for index in chunk if index not in todo)
        if todo:
            # only the image's classes are resized and fused
            classes = [_image_classes(samples[index]) for index in todo]
            if feature_grid:
                normalised = feature_grid_maps_of_images(
                    model, [_read_bgr(samples[index]['img_path']) for index in todo], scales,
                    flip, [samples[index]['gt_label'] for index in todo], batch_pixels, amp,
                    classes, stride)
            else:
                if table is None:
                    fused = [maps for maps, _ in fused_maps_of_images(
                        model, [_read_bgr(samples[index]['img_path']) for index in todo],
                        scales, flip, fusion, [samples[index]['gt_label'] for index in todo],
                        batch_pixels, pad_views, amp, classes)]
                else:
                    fused = [_grouped_maps(model, samples, index, table, scales, flip, fusion,
                                           amp, kept) for index, kept in zip(todo, classes)]
                normalised = [class_maps(maps, None, stride) for maps in fused]
            for index, kept, (maps, strided) in zip(todo, classes, normalised):
                target = map_path(out_dir, samples[index]['img_id'])
                save_maps(target, samples[index]['img_id'], kept, maps, strided_maps=strided,
                          stride=None if strided is None else stride, dtype=map_dtype)
                num_bytes += osp.getsize(target)
                empty += maps_are_empty(maps)
            written += len(todo)
        if progress is not None:
            for _ in chunk:
                progress.update()
    if progress is not None:
        print()
    warning = warn_if_degenerate(empty, written, f'written {empty_maps_text(out_dir)}')
    files = written + skipped
    return dict(written=written, skipped=skipped, empty=empty,
                bytes_per_image=num_bytes / files if files else 0.0,
                warnings=[] if warning is None else [warning])


def _grouped_maps(model: torch.nn.Module, samples: Sequence[Dict], index: int,
                  table: _PartnerTable, scales: Sequence[float], flip: bool,
                  fusion: str, amp: bool = False,
                  classes: Optional[np.ndarray] = None) -> torch.Tensor:
    """Fused maps of anchor ``samples[index]`` (of ``classes``; None: all), averaged over its
    partner groups (rounds)."""
    sample = samples[index]
    image = _read_bgr(sample['img_path'])
    per_round = []
    for group in table.groups(index):
        group_meta = dict(anchor=index, img_ids=[sample['img_id']] + [
            samples[partner]['img_id'] for partner in group])
        per_round.append(fused_maps_and_scores(
            model, image, scales, flip, fusion,
            [_read_bgr(samples[partner]['img_path']) for partner in group],
            group_meta, gt_labels=[sample['gt_label']] + [
                samples[partner]['gt_label'] for partner in group], amp=amp,
            classes=classes)[0])
    return torch.stack(per_round).mean(0)


def _image_classes(sample: Dict) -> np.ndarray:
    """Indices of the classes ``sample`` is tagged with."""
    return np.flatnonzero(np.asarray(sample['gt_label']) > 0)
