"""Test-time augmentation of map inference: the views, their flips and scales, their fusion.

For every image the classifier runs on rescaled copies (``scales``, factors of the original
size) and, with ``flip=True``, on their horizontal mirrors. Each prediction is flipped back,
resized to the original image size and fused per class: ``fusion='mean'`` or ``'max'``
(``'mean'`` is the views' sum divided by their number, a factor that the normalisation removes:
tests/maps/test_inference.py). The fused map of every class the image carries is then divided
by its maximum (:func:`~wsss_toolbox.maps.inference.class_maps`).

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
(``fusion='mean'`` only) and runs single images (no partners).

**Flip pairs.** Every view's data sample carries the metainfo ``flip_pair_id``, shared by a
view and its mirror (unique per image and scale within one call). A model whose head asks for
it (``model.head.needs_flip_pairs``, e.g. RPNet's non-local blocks with batch statistics of
[image, mirror], after the authors' make_cam; written out by hand in
``tests/methods/rpnet/test_rpnet_inference_bn.py::test_flip_pair_batch_statistics_by_hand``)
gets every view and its mirror in the same forward.

**Batching.** Without partners, the views of several images go through the network in batches
of one size (:mod:`.forward`). With partners, every view of the anchor and the same view of
its partners form one group, and an image's groups are one ``test_step``
(:mod:`.partners` describes the layout).
"""
from typing import List, Optional, Sequence, Tuple

import mmcv
import numpy as np
import torch

from wsss_toolbox.structures import WSSSDataSample
from wsss_toolbox.utils import check_choice

from .feature_grid import feature_grid_sums, normalize_by_max, resize_maps, selected_view_maps
from .forward import forward_same_size, model_needs_flip_pairs, run_test_step

FUSIONS = ('mean', 'max')
#: ``'image_grid'``: views resized to the image, then flipped back and fused (the toolbox's
#: rule); ``'feature_grid'``: IRN/RPNet's make_cam (module docstring, :mod:`.feature_grid`)
AGGREGATIONS = ('image_grid', 'feature_grid')


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
                         batch_pixels: Optional[int] = None, amp: bool = False,
                         classes: Optional[Sequence[np.ndarray]] = None
                         ) -> List[Tuple[torch.Tensor, Optional[torch.Tensor]]]:
    """:func:`fused_maps_and_scores` of several images (no partners) at once: the views of
    all images go through the network in batches of one size (module docstring).

    ``amp``: forwards in mixed precision (:func:`~.forward.run_test_step`). ``classes``: per
    image, the class indices whose maps are fused (None: all classes).

    Returns:
        per image ``(maps (C, H, W) or (K, H, W) of classes, scores (C,) or None)``.
    """
    check_fusion(fusion)
    labels = [None] * len(images) if gt_labels is None else list(gt_labels)
    keep = [None] * len(images) if classes is None else list(classes)
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
    results = forward_same_size(model, inputs, samples, batch_pixels, amp, unit)
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
    per-class max normalisation that follows
    (:func:`~wsss_toolbox.maps.inference.class_maps`) removes the factor, so the division by
    the number of views is left out (one rounding fewer before the float16 map file).
    :func:`infer_image_maps` gives the mean.

    Args:
        model, image, scales, flip, fusion, partner_images: see :func:`infer_image_maps`.
        group: ``dict(anchor=index, img_ids=[anchor id, partner ids...])`` for the group
            metainfo; None with partners: anchor 0, no ids.
        gt_labels: multi-hot labels (C,) of the image and then of its partners, given to
            the views' data samples as ``gt_label`` (heads that erase with the labels, e.g.
            SeeNet, need them); None: the data samples carry no label.
        amp: forwards in mixed precision (:func:`~.forward.run_test_step`).
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
    results = run_test_step(model, batch, amp)
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
            (:mod:`.partners`); None: the image alone.
    """
    fused, _ = fused_maps_and_scores(model, image, scales, flip, fusion, partner_images)
    if fusion == 'mean':
        fused = fused / (len(scales) * (2 if flip else 1))
    return fused
