"""RPNet's region-prototype head (Liu et al., "Cross-Image Region Mining with Region Prototypical
Network for Weakly Supervised Segmentation", Sec. III; where the released code differs,
liuweide01/RPNet-Weakly-Supervised-Segmentation, net/resnet50_cam.py, is followed and the
paper's reading is an option: configs/rpnet/README.md).

Two branches share a 1x1 projection ``f_N`` (D = 512, no bias) of the last backbone stage:

* the **original** branch: ``CAM = Theta^T f_N`` (Eqs. 1-2; the ReLU, max normalisation and
  label mask are applied where the maps are used), logits by global average pooling;
* the **enhanced** branch (training only): region prototypes (Eqs. 3-6, masked average pooling
  under a confident mask and a randomly discarded part of it) of the image and of its group
  partners, cosine similarity of every prototype with the features of its level (Eq. 7), the
  maximum over prototypes (Eq. 8), x 1.3 after max normalisation, a 5x5 Gaussian (Eqs. 9-10)
  and ``f'_N = Gauss(F^) * f_N``, classified by the same classifier.

Loss (Eq. 11, authors' code): ``L_c`` of the original branch's logits for every image of the
group plus ``lambda * L_s`` with ``L_s`` the mean squared difference of the label-masked,
max-normalised CAMs of the original branch and the multi-scale enhanced branch
(:class:`~wsss_toolbox.methods.rpnet.RPNetClassifier` computes the extra scales). Inference
uses the original branch of a single image (``localization_maps = ReLU(CAM)``; the released
code's ``CAM.forward``, net/resnet50_cam.py L266-277), its non-local BatchNorm optionally on
the batch statistics of [view, mirror] (``non_local_inference_bn``).

(Over 400 lines: the two branches, the region prototypes and the three losses share the
projected features of one forward and are documented against the paper's equations together.)
"""
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wsss_toolbox.models.heads.base_attention_head import BaseAttentionHead, Features
from wsss_toolbox.registry import MODELS
from wsss_toolbox.utils import check_choice

SIMILARITY_LOSSES = ('cam', 'feature')
CLS_LOSS_BRANCHES = ('original', 'enhanced')
#: BatchNorm of the non-local blocks at inference: ``'running_stats'`` (eval mode) or
#: ``'flip_pair_batch_stats'`` (the batch statistics of each view and its mirror, as the
#: authors' CAMs: their model never leaves training mode)
NON_LOCAL_INFERENCE_BNS = ('running_stats', 'flip_pair_batch_stats')


def confident_mask(features: Tensor, threshold: float = 0.3, eps: float = 1e-5) -> Tensor:
    """Confident region ``M = 1[max_c(f / max_{x,y} f) >= threshold]`` (Eqs. 3, 4, 6 as the
    authors' code computes them: per-channel spatial max, then the maximum over channels).

    Args:
        features: (N, D, h, w) projected features ``f_N``.
        threshold: alpha (0.3).

    Returns:
        (N, 1, h, w) float mask in {0, 1}, no gradient.
    """
    features = features.detach()
    normalised = features / (features.amax(dim=(2, 3), keepdim=True) + eps)
    return (normalised.amax(dim=1, keepdim=True) >= threshold).to(features.dtype)


def discard_part(mask: Tensor, discard_prob: float,
                 generator: Optional[torch.Generator] = None) -> Tensor:
    """``M_part``: each pixel of ``mask`` is dropped with probability ``discard_prob`` (beta,
    Z ~ Bernoulli); the result stays binary (the code's ``dropout(M) / max``)."""
    if not 0.0 <= discard_prob < 1.0:
        raise ValueError(f'discard_prob (beta) must lie in [0, 1), got {discard_prob}')
    keep = torch.rand(mask.shape, generator=generator, device=mask.device) >= discard_prob
    return mask * keep.to(mask.dtype)


def masked_average_pooling(features: Tensor, mask: Tensor, eps: float = 5e-4) -> Tensor:
    """Prototype ``p = sum(f * M) / (sum(M) + eps)`` (Eq. 5): (N, D, h, w), (N, 1, h, w) ->
    (N, D). An empty mask gives the zero vector (cosine similarity 0 with everything)."""
    if mask.shape[0] != features.shape[0] or mask.shape[-2:] != features.shape[-2:]:
        raise ValueError(f'masked_average_pooling: mask {tuple(mask.shape)} does not match '
                         f'features {tuple(features.shape)}')
    return (features * mask).sum(dim=(2, 3)) / (mask.sum(dim=(2, 3)) + eps)


def share_within_groups(prototypes: Tensor, group_size: int) -> Tensor:
    """Give every image the prototypes of all images of its group (itself included).

    Args:
        prototypes: (N, P, D), N = B * G images ordered group after group.
        group_size: G.

    Returns:
        (N, G * P, D): image ``b * G + i`` gets the prototypes of images ``b * G .. b * G + G - 1``.
    """
    num_images, num_prototypes, channels = prototypes.shape
    if num_images % group_size:
        raise ValueError(f'{num_images} images do not split into groups of {group_size}')
    grouped = prototypes.reshape(-1, group_size * num_prototypes, channels)
    return grouped.repeat_interleave(group_size, dim=0)


def prototype_similarity(features: Tensor, prototypes: Tensor, eps: float = 1e-8) -> Tensor:
    """Cosine similarity ``s_k(x, y) = cos(p_k, f(x, y))`` (Eq. 7): (N, D, h, w) features and
    (N, K, D) prototypes -> (N, K, h, w)."""
    return F.cosine_similarity(features.unsqueeze(1), prototypes[..., None, None], dim=2, eps=eps)


def max_normalised_similarity(similarities: Tensor, scale: float = 1.3,
                              eps: float = 1e-5) -> Tensor:
    """``F^ = scale * max_k s_k / (max_{x,y} max_k s_k + eps)`` (Eq. 8 and the code's x 1.3):
    (N, K, h, w) -> (N, 1, h, w)."""
    best = similarities.amax(dim=1, keepdim=True)
    return scale * best / (best.amax(dim=(2, 3), keepdim=True) + eps)


def gaussian_kernel(size: int = 5, sigma: float = 3.0) -> Tensor:
    """(size, size) Gaussian kernel ``exp(-(x^2 + y^2) / (2 sigma^2))`` normalised to sum 1."""
    if size < 1 or size % 2 == 0 or sigma <= 0:
        raise ValueError(f'gaussian_kernel: size must be odd and >= 1 and sigma > 0, got '
                         f'size={size}, sigma={sigma}')
    offsets = torch.arange(size, dtype=torch.float32) - size // 2
    profile = torch.exp(-offsets**2 / (2 * sigma**2))
    kernel = profile[:, None] * profile[None, :]
    return kernel / kernel.sum()


def gaussian_smooth(maps: Tensor, kernel: Tensor) -> Tensor:
    """Filter (N, 1, h, w) maps with a (k, k) kernel, zero padding ``k // 2`` (Eqs. 9-10)."""
    size = kernel.shape[-1]
    return F.conv2d(maps, kernel.to(maps)[None, None], padding=size // 2)


def normalised_label_cams(cams: Tensor, labels: Tensor, eps: float = 1e-5) -> Tensor:
    """``C^ = ReLU(ReLU(cams) - eps) / (max_{x,y} ReLU(cams) + eps) * label`` per image and
    class: the normalisation of the authors' ``L_s`` (liuweide01/RPNet-Weakly-Supervised-
    Segmentation, step/train_cam.py L93-96), whose numerator also subtracts ``eps``, so
    activations below ``eps`` count as 0 (tests/methods/rpnet: hand transcription)."""
    cams = F.relu(cams)
    peak = cams.amax(dim=(2, 3), keepdim=True) + eps
    return F.relu(cams - eps) / peak * labels[..., None, None]


class NonLocalBlock(nn.Module):
    """Embedded dot-product non-local block (in the authors' code, not in the paper):
    ``z = x + BN(W (softmax-free theta^T phi / HW) g)``, theta/phi/g 1x1 convs D -> D/2; W's
    BatchNorm starts at 0, so the block starts as the identity.

    ``forward(x, norm_groups)``: with ``norm_groups`` (B,) ids, the BatchNorm normalises each
    group of images with that group's own batch statistics (biased variance, as BatchNorm in
    training mode; the running statistics are neither used nor updated), whatever the mode.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = max(channels // 2, 1)
        self.theta = nn.Conv2d(channels, inner, 1)
        self.phi = nn.Conv2d(channels, inner, 1)
        self.g = nn.Conv2d(channels, inner, 1)
        self.out = nn.Sequential(nn.Conv2d(inner, channels, 1), nn.BatchNorm2d(channels))
        nn.init.zeros_(self.out[1].weight)
        nn.init.zeros_(self.out[1].bias)

    def forward(self, x: Tensor, norm_groups: Optional[Tensor] = None) -> Tensor:
        batch, _, height, width = x.shape
        theta = self.theta(x).flatten(2).transpose(1, 2)  # (B, HW, D/2)
        phi = self.phi(x).flatten(2)  # (B, D/2, HW)
        g = self.g(x).flatten(2).transpose(1, 2)  # (B, HW, D/2)
        affinity = theta @ phi / (height * width)
        y = (affinity @ g).transpose(1, 2).reshape(batch, -1, height, width)
        if norm_groups is None:
            return x + self.out(y)
        conv, norm = self.out
        y = conv(y)
        normalised = torch.empty_like(y)
        for group in norm_groups.unique():
            members = (norm_groups == group).nonzero(as_tuple=True)[0]
            normalised[members] = F.batch_norm(y[members], None, None, norm.weight, norm.bias,
                                               training=True, eps=norm.eps)
        return x + normalised


@MODELS.register_module()
class RPNetHead(BaseAttentionHead):
    """RPNet head on a group-ordered batch (``ImageGroupDataset`` + ``group_collate``).

    Args:
        in_channels: channels of the last backbone stage (2048 for ResNet/ResNeXt-50).
        num_classes: C foreground classes.
        channels: D of the 1x1 projection ``f_N`` (512, no bias; the paper says 256).
        in_index: backbone output of block 4.
        prototype_indices: backbone outputs whose region prototypes are compared (Table IV:
            block 2 + block 4). The one equal to ``in_index`` uses ``f_N``; the others their
            raw features, resized to ``f_N``'s grid (bilinear, ``align_corners=True``).
        confident_threshold: alpha of Eq. 6 (0.3).
        discard_prob: beta, probability of discarding a confident pixel from ``M_part`` (0.5).
        full_mask_prototypes: also pool with the full confident mask (authors' code: 4
            prototypes per level for pairs); ``False``: the discarded mask only (paper).
        similarity_scale: factor after max normalisation of ``F^`` (code: 1.3).
        gaussian_size / gaussian_sigma: the filter of Eqs. 9-10 (5, 3.0); ``gaussian_sigma=None``
            skips it (Table VI).
        enhance_scales: scales of the enhanced branch averaged in ``L_s`` (code: 1, 0.5, 1.5,
            2); the first must be 1.0; the others run without gradient.
        similarity_loss: ``'cam'`` (code: normalised CAMs) or ``'feature'`` (Eq. 13,
            ``(f'_N - f_N)^2``, averaged over pixels, channels and images).
        similarity_loss_weight: lambda (10).
        cls_loss_branch: ``'original'`` (code) or ``'enhanced'`` (paper) logits for ``L_c``.
        separate_partner_head: partners (group position > 0) use their own classifier (and
            non-local blocks), as the code's separate q / r heads; inference uses the anchor's.
        non_local: a non-local block before the classifier in each branch (code).
        non_local_inference_bn: the BatchNorm of the non-local blocks at inference (eval
            mode): ``'running_stats'`` (default) or ``'flip_pair_batch_stats'``, the batch
            statistics of each view and its mirror, as the authors' CAMs (their
            ``Net.train`` override keeps the model in training mode, and make_cam.py runs
            [image, mirror] as one batch: net/resnet50_cam.py L252-256, L266-277). Map
            inference puts a view and its mirror in one forward with a shared metainfo
            ``flip_pair_id`` (:attr:`needs_flip_pairs`); samples without it (e.g. a
            validation loop) fall back to the running statistics with a warning. No effect
            without ``non_local``.
        loss_cls: image-level loss (multilabel soft margin).
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 channels: int = 512,
                 in_index: int = -1,
                 prototype_indices: Sequence[int] = (0, -1),
                 confident_threshold: float = 0.3,
                 discard_prob: float = 0.5,
                 full_mask_prototypes: bool = True,
                 similarity_scale: float = 1.3,
                 gaussian_size: int = 5,
                 gaussian_sigma: Optional[float] = 3.0,
                 enhance_scales: Sequence[float] = (1.0, 0.5, 1.5, 2.0),
                 similarity_loss: str = 'cam',
                 similarity_loss_weight: float = 10.0,
                 cls_loss_branch: str = 'original',
                 separate_partner_head: bool = True,
                 non_local: bool = False,
                 non_local_inference_bn: str = 'running_stats',
                 loss_cls: Optional[dict] = dict(type='MultiLabelSoftMarginLoss'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(num_classes=num_classes, in_index=in_index, loss_cls=loss_cls,
                         init_cfg=init_cfg)
        if similarity_loss not in SIMILARITY_LOSSES:
            raise ValueError(f'RPNetHead: similarity_loss must be one of {SIMILARITY_LOSSES}, '
                             f'got {similarity_loss!r}')
        if cls_loss_branch not in CLS_LOSS_BRANCHES:
            raise ValueError(f'RPNetHead: cls_loss_branch must be one of {CLS_LOSS_BRANCHES}, '
                             f'got {cls_loss_branch!r}')
        if not enhance_scales or float(enhance_scales[0]) != 1.0:
            raise ValueError('RPNetHead: enhance_scales must start with 1.0 (the scale that '
                             f'gets gradients), got {tuple(enhance_scales)}')
        check_choice('RPNetHead: non_local_inference_bn', non_local_inference_bn,
                     NON_LOCAL_INFERENCE_BNS)
        if not prototype_indices:
            raise ValueError('RPNetHead: prototype_indices must name at least one level')
        if not 0.0 <= discard_prob < 1.0:
            raise ValueError(f'RPNetHead: discard_prob must lie in [0, 1), got {discard_prob}')
        self.channels = channels
        self.prototype_indices = tuple(prototype_indices)
        self.confident_threshold = confident_threshold
        self.discard_prob = discard_prob
        self.full_mask_prototypes = full_mask_prototypes
        self.similarity_scale = similarity_scale
        self.enhance_scales = tuple(float(scale) for scale in enhance_scales)
        self.similarity_loss = similarity_loss
        self.similarity_loss_weight = similarity_loss_weight
        self.cls_loss_branch = cls_loss_branch
        self.separate_partner_head = separate_partner_head
        self.non_local_inference_bn = non_local_inference_bn
        if gaussian_sigma is None:
            self.register_buffer('gaussian', None, persistent=False)
        else:
            self.register_buffer('gaussian', gaussian_kernel(gaussian_size, gaussian_sigma),
                                 persistent=False)
        self.projection = nn.Conv2d(in_channels, channels, 1, bias=False)
        num_heads = 2 if separate_partner_head else 1
        self.classifiers = nn.ModuleList(
            nn.Conv2d(channels, num_classes, 1, bias=False) for _ in range(num_heads))
        if non_local:
            self.non_local = nn.ModuleDict({
                branch: nn.ModuleList(NonLocalBlock(channels) for _ in range(num_heads))
                for branch in ('original', 'enhanced')})
        else:
            self.non_local = None

    @property
    def needs_flip_pairs(self) -> bool:
        """Whether inference needs every view in one forward with its mirror (map inference
        reads it): non-local blocks with ``non_local_inference_bn='flip_pair_batch_stats'``."""
        return self.non_local is not None and \
            self.non_local_inference_bn == 'flip_pair_batch_stats'

    def _norm_groups(self, data_samples: Optional[Sequence],
                     num_images: int) -> Optional[Tensor]:
        """At inference with flip-pair statistics: the (B,) ``flip_pair_id`` of the samples;
        else None (the BatchNorm's own mode decides)."""
        if self.training or not self.needs_flip_pairs:
            return None
        ids = [sample.metainfo.get('flip_pair_id') for sample in data_samples or ()]
        if len(ids) != num_images or any(pair_id is None for pair_id in ids):
            warnings.warn("RPNetHead(non_local_inference_bn='flip_pair_batch_stats'): the "
                          'data samples carry no flip_pair_id (map inference sets it), so the '
                          'non-local BatchNorm uses its running statistics for this batch')
            return None
        return torch.tensor([int(pair_id) for pair_id in ids],
                            device=self.projection.weight.device)

    # ------------------------------------------------------------------ branches
    def forward(self, feats: Features, data_samples: Optional[list] = None) -> Dict[str, Tensor]:
        """``logits``/``cams`` of the original branch; in training also the enhanced branch
        (``enhanced_cams``, ``similarity`` = Gauss(F^), ``confident_mask``)."""
        feats = (feats, ) if isinstance(feats, Tensor) else tuple(feats)
        projected = self.projection(self.select_input(feats))
        positions = self._head_positions(data_samples, projected.shape[0])
        cams = self._classify(projected, positions, 'original',
                              self._norm_groups(data_samples, projected.shape[0]))
        outputs = dict(logits=cams.mean(dim=(2, 3)), cams=cams, projected=projected)
        if self.training:
            outputs.update(self._enhance(feats, projected, positions, data_samples))
            outputs['enhanced_logits'] = outputs['enhanced_cams'].mean(dim=(2, 3))
        return outputs

    def enhanced_branch(self, feats: Features, data_samples: Sequence) -> Dict[str, Tensor]:
        """The enhanced branch alone, for the extra scales of ``L_s``."""
        feats = (feats, ) if isinstance(feats, Tensor) else tuple(feats)
        projected = self.projection(self.select_input(feats))
        positions = self._head_positions(data_samples, projected.shape[0])
        return self._enhance(feats, projected, positions, data_samples)

    def _enhance(self, feats: Tuple[Tensor, ...], projected: Tensor, positions: Tensor,
                 data_samples: Optional[Sequence]) -> Dict[str, Tensor]:
        group_size = self.group_size_of(data_samples, projected.shape[0])
        mask = confident_mask(projected, self.confident_threshold)
        similarities = []
        for level in self._level_features(feats, projected):
            masks = [discard_part(mask, self.discard_prob)]
            if self.full_mask_prototypes:
                masks.insert(0, mask)
            prototypes = torch.stack([masked_average_pooling(level, m) for m in masks], dim=1)
            similarities.append(prototype_similarity(
                level, share_within_groups(prototypes, group_size)))
        similarity = max_normalised_similarity(torch.cat(similarities, dim=1),
                                               self.similarity_scale)
        if self.gaussian is not None:
            similarity = gaussian_smooth(similarity, self.gaussian)
        enhanced_features = similarity * projected
        return dict(enhanced_cams=self._classify(enhanced_features, positions, 'enhanced'),
                    enhanced_features=enhanced_features, similarity=similarity,
                    confident_mask=mask)

    def _level_features(self, feats: Tuple[Tensor, ...], projected: Tensor) -> List[Tensor]:
        top = self.in_index % len(feats)
        levels = []
        for index in self.prototype_indices:
            if not -len(feats) <= index < len(feats):
                raise ValueError(
                    f'RPNetHead: prototype index {index} is out of range for the backbone\'s '
                    f'{len(feats)} outputs; set the backbone\'s out_indices to include block 2 '
                    'and block 4 (e.g. out_indices=(1, 3)).')
            if index % len(feats) == top:
                levels.append(projected)
            else:
                levels.append(F.interpolate(feats[index], size=projected.shape[-2:],
                                            mode='bilinear', align_corners=True))
        return levels

    def _classify(self, features: Tensor, positions: Tensor, branch: str,
                  norm_groups: Optional[Tensor] = None) -> Tensor:
        """Raw CAMs ``Theta^T NL(f)`` with the classifier of each image's group position;
        ``norm_groups``: per image, the group whose batch statistics its non-local BatchNorm
        uses (None: the BatchNorm's mode decides)."""
        outputs = None
        for head_index, classifier in enumerate(self.classifiers):
            selected = (positions == head_index).nonzero(as_tuple=True)[0]
            if selected.numel() == 0:
                continue
            x = features[selected]
            if self.non_local is not None:
                x = self.non_local[branch][head_index](
                    x, None if norm_groups is None else norm_groups[selected])
            cams = classifier(x)
            if outputs is None:
                outputs = cams.new_zeros((features.shape[0], *cams.shape[1:]))
            outputs = outputs.index_copy(0, selected, cams)
        return outputs

    def _head_positions(self, data_samples: Optional[Sequence], num_images: int) -> Tensor:
        """0 for anchors (and always at inference), 1 for partners with separate heads."""
        positions = torch.zeros(num_images, dtype=torch.long)
        if self.training and self.separate_partner_head and data_samples:
            positions = torch.tensor(
                [int(sample.metainfo.get('group_position', 0) > 0) for sample in data_samples])
        return positions.to(self.projection.weight.device)

    def group_size_of(self, data_samples: Optional[Sequence], num_images: int) -> int:
        """The group size G of a training batch, checked against the samples' metainfo.

        Raises:
            ValueError: the samples carry no group metainfo, or the batch is not ordered group
                after group.
        """
        if not data_samples or 'group_size' not in data_samples[0].metainfo:
            raise ValueError(
                'RPNetHead trains on groups of images sharing a class: wrap the training '
                "dataset in dict(type='ImageGroupDataset', group_size=2, dataset=...) with "
                "sampler=dict(type='ClassPairSampler', group_size=2) and "
                "collate_fn=dict(type='group_collate') (configs/rpnet/).")
        group_size = int(data_samples[0].metainfo['group_size'])
        positions = [int(sample.metainfo.get('group_position', -1)) for sample in data_samples]
        expected = list(range(group_size)) * (num_images // group_size)
        if num_images % group_size or positions != expected:
            raise ValueError(
                f'RPNetHead: the batch of {num_images} images is not ordered in groups of '
                f'{group_size} (group positions {positions[:8]}...); use group_collate.')
        return group_size

    # ------------------------------------------------------------------ losses
    def loss(self, outputs: Dict[str, Tensor], data_samples: Sequence) -> Dict[str, Tensor]:
        """``L_c`` summed over the group members plus ``lambda * L_s`` (Eq. 11, code form).

        ``outputs['enhanced_cams_extra']`` (optional): raw enhanced CAMs at the other
        ``enhance_scales``, any resolution (resized here, then ReLU, as the code).
        """
        labels = self.stack_gt_labels(data_samples, device=outputs['logits'].device)
        group_size = self.group_size_of(data_samples, labels.shape[0])
        logits = outputs['logits' if self.cls_loss_branch == 'original' else 'enhanced_logits']
        name = getattr(self.loss_cls, 'loss_name', 'loss_cls')
        losses = {name: group_size * self.loss_cls(logits, labels)}
        if self.similarity_loss == 'cam':
            similarity = cam_similarity_loss(outputs['cams'], outputs['enhanced_cams'], labels,
                                             outputs.get('enhanced_cams_extra', ()))
        else:
            similarity = (outputs['enhanced_features'] - outputs['projected']).pow(2).mean()
        losses['loss_similarity'] = group_size * self.similarity_loss_weight * similarity
        losses['confident_coverage'] = outputs['confident_mask'].mean().detach()
        return losses


def cam_similarity_loss(cams: Tensor, enhanced_cams: Tensor, labels: Tensor,
                        extra_enhanced_cams: Sequence[Tensor] = ()) -> Tensor:
    """``L_s`` of the authors' code: ``mean((C^_orig - C^_enh)^2)`` with ``C^`` the label-masked,
    max-normalised ReLU CAMs; ``C^_enh`` averages ReLU(enhanced CAMs) over the scales (each
    resized to ``cams``' grid before its ReLU). Absent classes count as zeros in the mean."""
    size = cams.shape[-2:]
    enhanced = [F.relu(enhanced_cams)]
    for extra in extra_enhanced_cams:
        if extra.shape[-2:] != size:
            extra = F.interpolate(extra, size=size, mode='bilinear', align_corners=False)
        enhanced.append(F.relu(extra))
    enhanced_mean = torch.stack(enhanced).mean(dim=0)
    original = normalised_label_cams(cams, labels)
    return (original - normalised_label_cams(enhanced_mean, labels)).pow(2).mean()
