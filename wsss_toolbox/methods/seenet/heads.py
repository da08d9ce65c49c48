"""SeeNet's self-erasing attention head (Hou et al., NeurIPS 2018, Sec. 3; the authors' released
Caffe files, houqb/SeeNet @ 2a448d4: ``deploy_seenet.prototxt``, ``crelu_layer.py``,
``vis.ipynb``).

Three branches after a shared backbone, each a :class:`~wsss_toolbox.models.heads.CAMBranch`
(convs + class-aware 1x1 conv + GAP) with its own weights:

* ``S_A`` reads the backbone features ``F`` and gives the initial attention;
* ``S_B`` reads ``C-ReLU(F) = max(F, 0) * T_A`` (Eq. 2): the attention zone of ``S_A`` erased
  (0), the background zone sign-flipped (-1), the potential zone kept (1);
* ``S_C`` reads ``max(F, 0) * B_C`` with ``B_C = 1`` below ``(delta_h + delta_l) / 2`` of the
  maximum (the background zone in the wide sense) and learns that it holds no object.

``T_A`` and ``B_C`` come from ``M_A``: the ReLU of ``S_A``'s maps of the image's ground-truth
classes, min-max normalised per class, maximum over those classes, detached (a constant).

Inference (Sec. 3.3) has two options that follow the released notebook (``vis.ipynb``) or the
toolbox's earlier reading: ``inference_erasing`` (one ``T_A`` from all the image's classes, or
one pass of ``S_B`` per class with ``T_A`` from that class alone) and ``inference_resize``
(normalise and fuse at feature resolution, or resize each branch bicubically first).

(Over 400 lines: the head's parts -- C-ReLU, M_A, T_A, B_C, the two inference fusions -- are
module functions tested one by one, kept next to the head that uses them.)

(Over 400 lines: the three branches, the self-erasing of Sec. 3 and the inference fusion
read one another's maps within one forward and are documented together.)
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from wsss_toolbox.maps.normalize import normalize_maps
from wsss_toolbox.models.heads import CAMBranch
from wsss_toolbox.models.heads.base_attention_head import (
    BaseAttentionHead,
    Features,
    _describe,
)
from wsss_toolbox.models.utils import crop_valid_region
from wsss_toolbox.registry import MODELS
from wsss_toolbox.utils import check_choice

THRESHOLD_RULES = ('paper', 'released')
#: ``inference_resize`` values: normalise + fuse at feature resolution, then the classifier
#: resizes bilinearly / resize each branch bicubically first (vis.ipynb L119-125)
INFERENCE_RESIZES = ('bilinear_after_fusion', 'bicubic_before_fusion')
#: ``inference_erasing`` values: one ``T_A`` from all the image's classes / one ``S_B`` pass per
#: class with ``T_A`` from that class (vis.ipynb L110-118, L175-179)
INFERENCE_ERASINGS = ('all_classes', 'per_class')
#: divisor floor of the notebook's normalisation, ``att / (max(att) + 1e-8)`` (vis.ipynb L123)
NOTEBOOK_EPS = 1e-8


class CReLUFunction(torch.autograd.Function):
    """Conditionally reversed linear unit (Eqs. 1-2): ``y = max(x, 0) * mask``.

    The backward pass multiplies by the same mask, ``dx = dy * mask * 1[x > 0]`` (the chain
    rule of Eq. 2 with a constant mask); the mask gets no gradient.
    """

    @staticmethod
    def forward(ctx, x: Tensor, mask: Tensor) -> Tensor:
        positive = x > 0
        ctx.save_for_backward(positive, mask)
        return x.clamp(min=0) * mask

    @staticmethod
    def backward(ctx, grad_output: Tensor) -> Tuple[Tensor, None]:
        positive, mask = ctx.saved_tensors
        return grad_output * mask * positive.to(grad_output.dtype), None


def c_relu(x: Tensor, mask: Tensor) -> Tensor:
    """C-ReLU of Eqs. 1-2 applied to features ``x`` (B, K, h, w) with a per-image spatial
    mask (B, 1, h, w) (values in {-1, 0, 1}, broadcast over the K channels).

    Raises:
        ValueError: the mask does not match the features' batch and spatial size.
    """
    if mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[0] != x.shape[0] \
            or mask.shape[-2:] != x.shape[-2:]:
        raise ValueError(f'c_relu: the mask must be (B, 1, h, w) = ({x.shape[0]}, 1, '
                         f'{x.shape[-2]}, {x.shape[-1]}) for features {tuple(x.shape)}, got '
                         f'{tuple(mask.shape)}')
    return CReLUFunction.apply(x, mask.to(x.dtype).detach())


def seenet_attention(cams: Tensor, labels: Tensor, valid: Optional[Tensor] = None) -> Tensor:
    """``M_A`` (Sec. 3.2): per image, the ReLU of ``S_A``'s class maps of the ground-truth
    classes, each min-max normalised to [0, 1], maximum over those classes; detached. The
    paper only says "normalise"; the min-max after a ReLU follows houqb/SeeNet
    ``crelu_layer.py`` L28-37 (which adds 1e-8 to the span; here a zero span gives 0).

    Args:
        cams: raw class maps of ``S_A`` (B, C, h, w).
        labels: multi-hot ground truth (B, C); only classes with label > 0 take part.
        valid: optional bool (B, 1, h, w), the cells covering the image (not the batch
            padding); the normalisation looks at valid cells only and ``M_A`` is 0 elsewhere.

    Returns:
        (B, 1, h, w) in [0, 1], no gradient.
    """
    cams = F.relu(cams.detach())
    if valid is None:
        normalized = normalize_maps(cams, mode='minmax', eps=0)
    else:
        valid = valid.to(torch.bool)
        big = torch.finfo(cams.dtype).max
        low = torch.where(valid, cams, torch.full_like(cams, big)).amin((-2, -1), keepdim=True)
        high = torch.where(valid, cams, torch.full_like(cams, -big)).amax((-2, -1),
                                                                          keepdim=True)
        span = high - low
        normalized = torch.where(span > 0, (cams - low) / span.clamp(min=1e-12),
                                 torch.zeros_like(cams)).clamp(0, 1) * valid
    present = (labels.detach() > 0).to(cams.dtype)[:, :, None, None]
    return (normalized * present).amax(dim=1, keepdim=True)


def _zones(attention: Tensor, high: float, low: float, rule: str) -> Tuple[Tensor, Tensor]:
    """(attention zone, background zone) as bool masks, see :func:`ternary_mask`."""
    if rule not in THRESHOLD_RULES:
        raise ValueError(f'threshold_rule must be one of {THRESHOLD_RULES}, got {rule!r}')
    if rule == 'released':  # absolute, strict (crelu_layer.py of the released model)
        return attention > high, attention < low
    peak = attention.amax(dim=(-2, -1), keepdim=True)
    return attention >= high * peak, attention < low * peak


def ternary_mask(attention: Tensor, high: float = 0.7, low: float = 0.05,
                 rule: str = 'paper', flip_background: bool = True) -> Tensor:
    """``T_A`` of Sec. 3.2 from ``M_A`` (B, 1, h, w).

    ``rule='paper'``: ``T_A = 0`` where ``M_A >= delta_h``, ``-1`` where ``M_A < delta_l``,
    ``1`` elsewhere, with ``delta_h = high * max(M_A)`` and ``delta_l = low * max(M_A)``
    (per image; paper 0.7 / 0.05). ``rule='released'``: absolute and strict thresholds, after
    houqb/SeeNet ``crelu_layer.py`` L38-41 (``M_A > high`` erased, ``M_A < low`` flipped;
    ``deploy_seenet.prototxt`` L548 gives 0.8 / 0.0, which never flips a sign because
    ``M_A >= 0``).

    ``flip_background=False`` is Table 1's setting 2: the background zone is 0 (zeroed)
    instead of -1. An image whose ``M_A`` has no positive value (``S_A`` finds none of its
    classes) has neither an attention nor a background zone: ``T_A = 1`` everywhere.
    """
    erased, background = _zones(attention, high, low, rule)
    mask = torch.ones_like(attention)
    mask[erased] = 0
    mask[background] = -1.0 if flip_background else 0.0
    seen = attention.amax(dim=(-2, -1), keepdim=True) > 0
    return torch.where(seen, mask, torch.ones_like(mask))


def background_zone_mask(attention: Tensor, threshold: float = 0.375,
                         rule: str = 'paper') -> Tensor:
    """``S_C``'s binary mask ``B_C`` from ``M_A`` (B, 1, h, w): 1 where ``M_A`` is below
    ``threshold`` (times ``max(M_A)`` for ``rule='paper'``; absolute for ``'released'``), 0
    elsewhere. The paper's factor is ``(delta_h + delta_l) / 2`` (Sec. 5.1; its Sec. 3.2
    calls the region "the background zone", below ``delta_l``). An
    image without positive attention has no known background: ``B_C = 0``.
    """
    if rule not in THRESHOLD_RULES:
        raise ValueError(f'threshold_rule must be one of {THRESHOLD_RULES}, got {rule!r}')
    peak = attention.amax(dim=(-2, -1), keepdim=True)
    limit = threshold * peak if rule == 'paper' else torch.full_like(peak, threshold)
    return ((attention < limit) & (peak > 0)).to(attention.dtype)


def fuse_branch_maps(cams_a: Tensor, cams_b: Tensor, valid: Optional[Tensor] = None) -> Tensor:
    """Inference map of Sec. 3.3: ``M_F = max(M^_A, M^_B)``, each branch's class maps
    ReLU'd and divided by their maximum (over the valid cells) before the element-wise max.
    """
    maps = []
    for cams in (cams_a, cams_b):
        cams = F.relu(cams)
        if valid is not None:
            cams = cams * valid.to(cams.dtype)
        maps.append(normalize_maps(cams, mode='max', eps=1e-5))
    return torch.maximum(*maps)


def fuse_branch_maps_bicubic(cams_a: Tensor, cams_b: Tensor, input_shape: Sequence[int],
                             image_shapes: Optional[Sequence[Sequence[int]]] = None) -> Tensor:
    """Inference map in the order of houqb/SeeNet ``vis.ipynb`` L119-125: each branch's raw
    class maps resized bicubically to the network input (``cv2.INTER_CUBIC`` there; torch's
    bicubic uses the same kernel, a = -0.75, and half-pixel centres), then ReLU, divided by
    ``max + 1e-8`` over the image's pixels, then the element-wise max of the two branches.

    Args:
        cams_a, cams_b: raw class maps (B, C, h, w) of ``S_A`` and ``S_B``.
        input_shape: (H_pad, W_pad) of the (padded) network input; the maps are resized to
            it, so the feature cells keep their position (the classifier then crops).
        image_shapes: per image its (H, W) inside the padded input; the maximum is taken
            over those pixels and the padding is 0. None: the whole input.

    Returns:
        (B, C, H_pad, W_pad) maps in [0, 1].
    """
    size = tuple(int(v) for v in input_shape)
    inside = torch.ones(cams_a.shape[0], 1, *size, dtype=torch.bool, device=cams_a.device)
    if image_shapes is not None:
        inside.zero_()
        for index, (height, width) in enumerate(image_shapes):
            inside[index, :, :int(height), :int(width)] = True
    maps = []
    for cams in (cams_a, cams_b):
        cams = F.interpolate(cams.float(), size=size, mode='bicubic', align_corners=False)
        cams = F.relu(cams) * inside
        maps.append(normalize_maps(cams, 'max', eps=NOTEBOOK_EPS, eps_rule='add'))
    return torch.maximum(*maps)


@MODELS.register_module()
class SeeNetHead(BaseAttentionHead):
    """Self-erasing network head (Sec. 3.3, Fig. 3).

    ``forward`` needs the data samples (their ``gt_label``): ``T_A`` is built from the
    ground-truth classes in training and at inference alike (the released notebook feeds the
    label at test time, houqb/SeeNet ``vis.ipynb`` L114-115; the paper does not say how
    ``S_B`` runs at test time). Outputs: ``logits`` /
    ``cams`` of ``S_A`` (the classifier's scores are ``S_A``'s, which do not see the labels),
    ``logits_b``/``cams_b``, ``logits_c``/``cams_c``, ``attention`` (``M_A``),
    ``ternary_mask`` (``T_A``), ``background_mask`` (``B_C``) and ``valid`` (cells covering
    the image), and for the inference options ``features`` (the branches' input), ``labels``
    (B, C) and ``input_shapes`` (B, 4: padded input H, W, image H, W). Loss
    ``L = L_A + L_B + L_C`` (Sec. 3.3), each ``loss_cls`` (multi-label soft margin) on the GAP
    logits; targets ``y`` for ``S_A`` and ``S_B``, all zeros for ``S_C``. Inference maps
    (:meth:`localization_maps`): ``S_A`` and ``S_B`` fused by the max, ``S_C`` not used.

    Args:
        in_channels: channels of the selected backbone output.
        num_classes: number C of foreground classes.
        high_threshold, low_threshold: ``delta_h`` / ``delta_l`` (paper 0.7 / 0.05 of the max;
            released 0.8 / 0.0 absolute with ``threshold_rule='released'``).
        threshold_rule: ``'paper'`` (relative to ``max(M_A)``, ``>=`` / ``<``) or
            ``'released'`` (absolute, strict).
        sc_threshold: ``S_C``'s threshold factor; None = ``(delta_h + delta_l) / 2``.
        flip_background: ``True`` = C-ReLU with -1 on the background zone (SeeNet);
            ``False`` = background zeroed (Table 1, setting 2).
        inference_erasing: how ``S_B`` runs at inference. ``'all_classes'``: the forward's
            single pass, ``T_A`` from all the image's classes (as in training).
            ``'per_class'``: one ``S_B`` pass per ground-truth class ``c`` with ``T_A`` from
            ``c``'s map alone, class ``c``'s ``S_B`` map taken from its own pass (the
            notebook's one forward per class, ``vis.ipynb`` L110-118, L175-179); the maps of
            the other classes stay those of the single pass.
        inference_resize: ``'bilinear_after_fusion'``: :func:`fuse_branch_maps` at feature
            resolution (ReLU, / max, max), resized bilinearly to the image by the
            classifier. ``'bicubic_before_fusion'``: :func:`fuse_branch_maps_bicubic` (the
            notebook's order: bicubic to the input size, ReLU, / (max + 1e-8), max).
        in_index: which backbone output to use.
        loss_cls: the loss of every branch.
        init_cfg: mmengine initialisation config.
        **kwargs: passed on to each of the three :class:`CAMBranch` (``num_convs``,
            ``channels``, ``dropout_ratio``, ``init_std``, ...: see its docstring). The paper
            has 3 convs per branch; the released model 2, with ``dropout_ratio=0.5``.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 *,
                 high_threshold: float = 0.7,
                 low_threshold: float = 0.05,
                 threshold_rule: str = 'paper',
                 sc_threshold: Optional[float] = None,
                 flip_background: bool = True,
                 inference_erasing: str = 'all_classes',
                 inference_resize: str = 'bilinear_after_fusion',
                 in_index: int = -1,
                 loss_cls: dict = dict(type='MultiLabelSoftMarginLoss'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None,
                 **kwargs) -> None:
        if loss_cls is None:
            raise ValueError('SeeNetHead trains every branch with loss_cls; it cannot be None')
        super().__init__(num_classes=num_classes, in_index=in_index, loss_cls=loss_cls,
                         init_cfg=init_cfg)
        if threshold_rule not in THRESHOLD_RULES:
            raise ValueError(f'threshold_rule must be one of {THRESHOLD_RULES}, got '
                             f'{threshold_rule!r}')
        check_choice('inference_erasing', inference_erasing, INFERENCE_ERASINGS)
        check_choice('inference_resize', inference_resize, INFERENCE_RESIZES)
        if not low_threshold <= high_threshold:
            raise ValueError(f'low_threshold ({low_threshold}) must not exceed high_threshold '
                             f'({high_threshold})')
        self.in_channels = in_channels
        self.high_threshold = float(high_threshold)
        self.low_threshold = float(low_threshold)
        self.threshold_rule = threshold_rule
        self.sc_threshold = float((high_threshold + low_threshold) / 2
                                  if sc_threshold is None else sc_threshold)
        self.flip_background = bool(flip_background)
        self.inference_erasing = inference_erasing
        self.inference_resize = inference_resize
        self.branch_a = CAMBranch(in_channels, num_classes, **kwargs)
        self.branch_b = CAMBranch(in_channels, num_classes, **kwargs)
        self.branch_c = CAMBranch(in_channels, num_classes, **kwargs)

    def labels_for_masks(self, data_samples: Optional[Sequence], device: torch.device) -> Tensor:
        """The (B, C) ground truth that builds ``T_A``, with clear errors for bad input."""
        if not data_samples:
            raise ValueError(
                'SeeNetHead builds its erasing masks from the ground-truth classes (also at '
                'inference) and got no data samples; call the classifier with data samples '
                'carrying gt_label (stage-2 map inference passes the image labels).')
        for sample in data_samples:
            if 'gt_label' not in sample:
                raise ValueError(
                    f'SeeNetHead: image {_describe(sample)} has no gt_label, so its ternary '
                    'mask T_A cannot be built; give the data samples their image labels '
                    '(PackWSSSInputs in training, the gt_label of the samples at inference).')
        labels = self.stack_gt_labels(data_samples, device=device)
        for sample, label in zip(data_samples, labels):
            if not bool((label > 0).any()):
                raise ValueError(
                    f'SeeNetHead: image {_describe(sample)} has no ground-truth class '
                    '(gt_label is all zeros), so no attention map M_A and no ternary mask '
                    'can be built; remove the image or fix its labels.')
        return labels

    @staticmethod
    def valid_cells(data_samples: Sequence, shape: Sequence[int],
                    device: torch.device) -> Tensor:
        """(B, 1, h, w) bool: the feature cells of each image inside the padded batch."""
        valid = torch.zeros(len(data_samples), 1, int(shape[0]), int(shape[1]),
                            dtype=torch.bool, device=device)
        for index, sample in enumerate(data_samples):
            pad = sample.metainfo.get('batch_input_shape')
            img = sample.metainfo.get('img_shape')
            if pad is None or img is None:
                valid[index] = True
            else:
                region = crop_valid_region(valid[index], pad, img[:2])
                region.fill_(True)
        return valid

    @staticmethod
    def input_shapes(data_samples: Sequence) -> Tensor:
        """(B, 4) int64 on the CPU: padded input (H, W) and image (H, W) of each sample, -1
        where the metainfo lacks them (``batch_input_shape`` falls back to ``img_shape``)."""
        rows = []
        for sample in data_samples:
            img = sample.metainfo.get('img_shape')
            pad = sample.metainfo.get('batch_input_shape', img)
            img = pad if img is None else img
            rows.append([-1, -1, -1, -1] if pad is None else
                        [int(pad[0]), int(pad[1]), int(img[0]), int(img[1])])
        return torch.tensor(rows, dtype=torch.int64)

    def forward(self, feats: Features, data_samples: Optional[list] = None) -> Dict[str, Tensor]:
        x = self.select_input(feats)
        labels = self.labels_for_masks(data_samples, x.device)
        if self.inference_resize == 'bicubic_before_fusion' and any(
                sample.metainfo.get('pred_on_feature_grid', False) for sample in data_samples):
            raise ValueError(
                "SeeNetHead(inference_resize='bicubic_before_fusion') gives its maps at the "
                "input size, but map inference asked for feature-grid maps (aggregation="
                "'feature_grid'); use aggregation='image_grid' (SeeNet's configs) or "
                "inference_resize='bilinear_after_fusion'")
        cams_a, logits_a = self.branch_a(x)
        valid = self.valid_cells(data_samples, cams_a.shape[-2:], x.device)
        attention = seenet_attention(cams_a, labels, valid)
        rule = self.threshold_rule
        mask_b = ternary_mask(attention, self.high_threshold, self.low_threshold, rule,
                              self.flip_background)
        mask_c = background_zone_mask(attention, self.sc_threshold, rule)
        cams_b, logits_b = self.branch_b(c_relu(x, mask_b))
        cams_c, logits_c = self.branch_c(c_relu(x, mask_c))
        return dict(logits=logits_a, cams=cams_a, logits_b=logits_b, cams_b=cams_b,
                    logits_c=logits_c, cams_c=cams_c, attention=attention,
                    ternary_mask=mask_b, background_mask=mask_c, valid=valid,
                    features=x, labels=labels, input_shapes=self.input_shapes(data_samples))

    def loss(self, outputs: Dict[str, Tensor], data_samples: Sequence) -> Dict[str, Tensor]:
        """``L_A + L_B + L_C`` (Sec. 3.3) as three entries ``loss_a``, ``loss_b``, ``loss_c``
        (mmengine sums them); ``S_C``'s targets are all zeros."""
        labels = self.stack_gt_labels(data_samples, device=outputs['logits'].device)
        return dict(loss_a=self.loss_cls(outputs['logits'], labels),
                    loss_b=self.loss_cls(outputs['logits_b'], labels),
                    loss_c=self.loss_cls(outputs['logits_c'], torch.zeros_like(labels)))

    def per_class_cams_b(self, outputs: Dict[str, Tensor]) -> Tensor:
        """``S_B``'s class maps with ``inference_erasing='per_class'``: for every (image,
        ground-truth class ``c``) one pass of ``S_B`` on ``C-ReLU(F)`` with ``T_A`` built
        from ``c``'s map alone (``M_A`` of a one-hot label), keeping channel ``c`` of that
        pass; the other classes' maps are those of the forward's pass. All pairs of the batch
        go through ``S_B`` as one batch."""
        for key in ('features', 'labels'):
            if key not in outputs:
                raise KeyError(f"SeeNetHead(inference_erasing='per_class') needs the "
                               f"forward's output {key!r}; pass the outputs of "
                               'SeeNetHead.forward')
        cams_a, cams_b = outputs['cams'], outputs['cams_b']
        images, classes = torch.nonzero(outputs['labels'] > 0, as_tuple=True)
        if images.numel() == 0:
            return cams_b
        one_hot = F.one_hot(classes, self.num_classes).to(cams_a.dtype)
        valid = outputs.get('valid')
        attention = seenet_attention(cams_a[images], one_hot,
                                     None if valid is None else valid[images])
        mask = ternary_mask(attention, self.high_threshold, self.low_threshold,
                            self.threshold_rule, self.flip_background)
        cams, _ = self.branch_b(c_relu(outputs['features'][images], mask))
        cams_b = cams_b.clone()
        cams_b[images, classes] = cams[torch.arange(images.numel(), device=cams.device),
                                       classes].to(cams_b.dtype)
        return cams_b

    def localization_maps(self, outputs: Dict[str, Tensor]) -> Tensor:
        """``max(M^_A, M^_B)`` per class (Sec. 3.3, inference); ``S_C`` is discarded.
        ``S_B``'s maps per ``inference_erasing``, the order per ``inference_resize``: (B, C,
        h, w) at feature resolution, or (B, C, H_pad, W_pad) at the network input."""
        cams_b = outputs['cams_b']
        if self.inference_erasing == 'per_class':
            cams_b = self.per_class_cams_b(outputs)
        if self.inference_resize == 'bilinear_after_fusion':
            return fuse_branch_maps(outputs['cams'], cams_b, outputs.get('valid'))
        shapes = outputs.get('input_shapes')
        if shapes is None or bool((shapes < 0).any()):
            raise ValueError("SeeNetHead(inference_resize='bicubic_before_fusion') needs the "
                             'network input size: give the data samples the metainfo '
                             'batch_input_shape (WSSSClassifier sets it) or img_shape')
        shapes = shapes.tolist()
        if len({tuple(row[:2]) for row in shapes}) != 1:
            raise ValueError(f'SeeNetHead: the images of one batch have different padded '
                             f'input sizes {sorted({tuple(row[:2]) for row in shapes})}')
        return fuse_branch_maps_bicubic(outputs['cams'], cams_b, shapes[0][:2],
                                        [row[2:] for row in shapes])
