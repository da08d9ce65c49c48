"""MCIS co-attention classifier head (Sun et al., ECCV 2020, Sec. 3.2-3.3, Eqs. 1-10).

One head serves both images of a pair (Siamese): the basic branch is CAM (``S = phi(F)``,
``s = GAP(S)``, Eq. 1); every pair ``(m, n)`` of a group also gets

* the co-attention (Eqs. 2-4): ``P = F_m^T W_P F_n``, ``A_m = softmax(P)``,
  ``A_n = softmax(P^T)`` (column-wise), ``F_m^{m∩n} = F_n A_n``, ``F_n^{m∩n} = F_m A_m``;
* the contrastive co-attention (Eqs. 6-8): ``B_m = sigma(W_B F_m^{m∩n})``,
  ``F_m^{m\\n} = F_m ⊗ (1 - B_m)``;

each classified by the co-attention classifier (authors' code, GuoleiSun/MCIS_wsss
Classifier/models/vgg.py L140, L205-222: a separate bias-free 1x1 conv; the paper: the basic
``phi``) and trained on ``l_m ∩ l_n`` (Eq. 5) and ``l_m \\ l_n`` (Eq. 9).
"""
import math
import warnings
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wsss_toolbox.models.heads.base_attention_head import BaseAttentionHead, Features
from wsss_toolbox.models.heads.cam_head import CAMBranch
from wsss_toolbox.registry import MODELS

LOSS_WEIGHTINGS = ('code', 'paper')
#: when a contrastive term (Eq. 9) is left out of the loss:
#: ``'own_side_empty'``: the term of side m (l_m \\ l_n) when every target of side m in the
#: batch is 0, that of side n likewise, each on its own (authors' code, scripts/train.py
#: L278-282); ``'both_sides_empty'``: both terms only when both sides are empty (the toolbox
#: before this option); ``'never'``: always (the paper's Eq. 10)
CONTRASTIVE_SKIP_RULES = ('own_side_empty', 'both_sides_empty', 'never')


def contrastive_skip_rule(value: Union[str, bool]) -> str:
    """Check ``contrastive_skip_empty``; the old booleans still work (DeprecationWarning):
    ``True`` -> ``'both_sides_empty'`` (what it did), ``False`` -> ``'never'``."""
    if isinstance(value, bool):
        rule = 'both_sides_empty' if value else 'never'
        warnings.warn(
            f'MCISHead.contrastive_skip_empty={value} is deprecated: use '
            f"contrastive_skip_empty={rule!r} (what {value} did); the authors' rule, now the "
            "default, is 'own_side_empty'", DeprecationWarning, stacklevel=3)
        return rule
    if value not in CONTRASTIVE_SKIP_RULES:
        raise ValueError(f'contrastive_skip_empty must be one of {CONTRASTIVE_SKIP_RULES}, '
                         f'got {value!r}')
    return value


# ---------------------------------------------------------------- label algebra (Eqs. 5, 9)
def label_intersection(labels_m: Tensor, labels_n: Tensor) -> Tensor:
    """``l_m ∩ l_n``: classes present in both images (element-wise AND of multi-hot labels)."""
    return (labels_m > 0).to(labels_m.dtype) * (labels_n > 0).to(labels_m.dtype)


def label_difference(labels_m: Tensor, labels_n: Tensor) -> Tensor:
    """``l_m \\ l_n = l_m - l_m ∩ l_n``: classes of ``m`` absent from ``n`` (may be all 0)."""
    return (labels_m > 0).to(labels_m.dtype) - label_intersection(labels_m, labels_n)


# ---------------------------------------------------------------- co-attention (Eqs. 2-8)
def co_attention(feat_m: Tensor, feat_n: Tensor,
                 affinity: Callable[[Tensor], Tensor]) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Co-attentive features of a batch of image pairs (Eqs. 2-4).

    Args:
        feat_m: (B, C, Hm, Wm) features ``F_m``.
        feat_n: (B, C, Hn, Wn) features ``F_n``; the two sizes may differ.
        affinity: ``W_P`` as a map on ``F_m^T`` (B, Hm*Wm, C) -> (B, Hm*Wm, C), e.g. a
            bias-free ``nn.Linear`` (the authors' code uses one, vgg.py L137, L185; then
            ``W_P = weight^T``).

    Returns:
        ``(F_m^{m∩n} (B, C, Hm, Wm), F_n^{m∩n} (B, C, Hn, Wn), A_m (B, HWm, HWn),
        A_n (B, HWn, HWm))``. ``F_m^{m∩n} = F_n A_n`` is built from ``n``'s features (each
        position of ``m`` gets a convex combination of ``n``'s positions) and vice versa.
    """
    if feat_m.shape[:2] != feat_n.shape[:2]:
        raise ValueError(f'co_attention needs the same batch and channels, got '
                         f'{tuple(feat_m.shape)} and {tuple(feat_n.shape)}')
    flat_m, flat_n = feat_m.flatten(2), feat_n.flatten(2)  # (B, C, HW)
    similarity = torch.bmm(affinity(flat_m.transpose(1, 2)), flat_n)  # P (B, HWm, HWn), Eq. 2
    attention_m = F.softmax(similarity, dim=1)  # A_m: each column j sums to 1 over m
    attention_n = F.softmax(similarity.transpose(1, 2), dim=1)  # A_n (B, HWn, HWm)
    co_m = torch.bmm(flat_n, attention_n).view_as(feat_m)  # F_m^{m∩n} = F_n A_n (Eq. 4)
    co_n = torch.bmm(flat_m, attention_m).view_as(feat_n)  # F_n^{m∩n} = F_m A_m
    return co_m, co_n, attention_m, attention_n


def contrastive_features(feat: Tensor, co_feat: Tensor,
                         gate: Callable[[Tensor], Tensor]) -> Tuple[Tensor, Tensor]:
    """``F^{m\\n} = F_m ⊗ (1 - sigma(W_B F_m^{m∩n}))`` (Eqs. 6-8) and ``B_m`` (B, 1, H, W).

    ``feat`` is the image's *own* features; ``gate`` is ``W_B`` (a C -> 1 1x1 conv).
    """
    common = torch.sigmoid(gate(co_feat))  # B_m, Eq. 6
    return feat * (1 - common), common  # Eqs. 7-8, broadcast over channels


def valid_feature_size(sample, feature_size: Tuple[int, int]) -> Tuple[int, int]:
    """Feature cells covered by an image padded into its batch (top-left ``img_shape``)."""
    height, width = feature_size
    meta = sample.metainfo if hasattr(sample, 'metainfo') else {}
    if 'img_shape' not in meta or 'batch_input_shape' not in meta:
        return height, width
    (img_h, img_w), (pad_h, pad_w) = meta['img_shape'][:2], meta['batch_input_shape'][:2]
    return (min(height, math.ceil(height * img_h / pad_h)),
            min(width, math.ceil(width * img_w / pad_w)))


def group_pairs(data_samples: Optional[Sequence]) -> List[Tuple[int, int]]:
    """``(anchor, partner)`` batch indices of every group laid out by ``group_collate``.

    A group is ``[anchor (group_position 0), partner_1, ...]``; each partner makes one pair
    with its anchor. Samples without group metainfo make no pair.
    """
    pairs: List[Tuple[int, int]] = []
    anchor = None
    for index, sample in enumerate(data_samples or ()):
        position = sample.metainfo.get('group_position') if hasattr(sample, 'metainfo') \
            else None
        if position is None:
            anchor = None
        elif position == 0:
            anchor = index
        elif anchor is not None:
            pairs.append((anchor, index))
    return pairs


@MODELS.register_module()
class MCISHead(BaseAttentionHead):
    """Basic, co-attention and contrastive co-attention branches of MCIS (Eqs. 1-10).

    Forward on a batch laid out by ``group_collate`` (groups ``[anchor, partner, ...]``)
    returns, besides ``logits``/``cams`` of the basic branch for every image,
    ``features`` (F, after the extra convs), ``pair_index`` (P, 2) and per pair
    ``co_logits``/``co_cams`` (P, 2, ...) = ``[s_m^{m∩n}, s_n^{m∩n}]`` and
    ``contrast_logits``/``contrast_cams``/``common_gates`` = ``[s_m^{m\\n}, s_n^{n\\m}]``.
    A batch without groups gives the basic branch only (single-round inference).

    Args:
        in_channels: channels of the backbone output.
        num_classes: number K of foreground classes.
        init_mode: initialisation of the extra convs and ``phi``: ``'kaiming_fan_out'``
            (authors' code, vgg.py L90-96: each conv N(0, sqrt(2 / (k^2 out_channels))), bias
            0; ``phi`` with 20 classes: std 0.316) or ``'normal'`` (every conv N(0,
            ``init_std``)). ``None`` (default): ``'normal'`` when ``init_std`` is given, else
            ``'kaiming_fan_out'``. ``W_P``, ``W_B`` and the separate co-attention classifier
            keep PyTorch's default initialisation, as in the authors' code (their loop does
            not reach them).
        init_std: std of ``init_mode='normal'`` (default 0.01 there); an error with
            ``'kaiming_fan_out'``, which ignores it.
        shared_classifier: False (authors' code): the co-attention and contrastive branches
            use a separate bias-free 1x1 conv; True (paper): they share ``phi``.
        contrastive: train the contrastive branch (Eq. 9); False = Table 4's L_basic + L_co-att.
        co_attention_loss: train the co-attention branch (Eq. 5); False with
            ``contrastive=False`` = Table 4's L_basic (pairs still formed).
        contrastive_start_epoch: first (0-based) epoch with the contrastive term (authors'
            code: 2); the epoch comes from :class:`MCISTrainingHook` (``head.epoch``).
        contrastive_skip_empty: when a contrastive term is left out: ``'own_side_empty'``
            (authors' code: each side's term only when that side of the batch has a positive
            target), ``'both_sides_empty'`` (both terms whenever either side has one),
            ``'never'`` (the paper's Eq. 10). The old ``True`` / ``False`` still work with a
            DeprecationWarning (= ``'both_sides_empty'`` / ``'never'``).
        loss_weighting: ``'code'``: basic and co-attention terms are one mean over the 2P
            pair members, the two contrastive terms separate means (authors' code);
            ``'paper'``: Eq. 10, ``CE_m + CE_n`` for every term.
        **kwargs: passed on to the :class:`CAMBranch` of the extra convs + basic classifier
            ``phi`` (``num_convs``, ``channels``, ``dropout_ratio``, ...: see its docstring;
            VGG: 3 convs of 512); ``pooling`` must stay ``'gap'``.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 *,
                 init_mode: Optional[str] = None,
                 init_std: Optional[float] = None,
                 shared_classifier: bool = False,
                 contrastive: bool = True,
                 co_attention_loss: bool = True,
                 contrastive_start_epoch: int = 2,
                 contrastive_skip_empty: Union[str, bool] = 'own_side_empty',
                 loss_weighting: str = 'code',
                 in_index: int = -1,
                 loss_cls: Optional[dict] = dict(type='MultiLabelSoftMarginLoss'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None,
                 **kwargs) -> None:
        super().__init__(num_classes=num_classes, in_index=in_index, loss_cls=loss_cls,
                         init_cfg=init_cfg)
        if kwargs.get('pooling', 'gap') != 'gap':
            raise ValueError(f"MCISHead: pooling={kwargs['pooling']!r} is not supported; every "
                             "branch of MCIS scores its maps by GAP (pooling='gap')")
        if loss_weighting not in LOSS_WEIGHTINGS:
            raise ValueError(f'loss_weighting must be one of {LOSS_WEIGHTINGS}, got '
                             f'{loss_weighting!r}')
        if contrastive_start_epoch < 0:
            raise ValueError(f'contrastive_start_epoch must be >= 0, got '
                             f'{contrastive_start_epoch}')
        if contrastive and not co_attention_loss:
            raise ValueError('contrastive=True needs co_attention_loss=True (W_B reads the '
                             'co-attentive features, Eq. 6)')
        if init_mode is None:
            init_mode = 'kaiming_fan_out' if init_std is None else 'normal'
        if init_mode == 'kaiming_fan_out' and init_std is not None:
            raise ValueError(f"MCISHead: init_mode='kaiming_fan_out' gives each conv its own "
                             f"std and ignores init_std={init_std}: drop init_std or set "
                             "init_mode='normal'")
        self.in_channels = in_channels
        self.branch = CAMBranch(
            in_channels, num_classes, init_std=0.01 if init_std is None else init_std,
            init_mode=init_mode, **kwargs)
        feat_channels = self.branch.classifier.in_channels  # F: after the extra convs
        # W_P (Eq. 2), W_B (Eq. 6) and the co-attention classifier: bias-free, PyTorch's
        # default initialisation (authors: vgg.py L137-141, outside their init loop)
        self.affinity = nn.Linear(feat_channels, feat_channels, bias=False)
        self.common_gate = nn.Conv2d(feat_channels, 1, 1, bias=False)
        self.shared_classifier = shared_classifier
        self.co_classifier = None if shared_classifier else nn.Conv2d(
            feat_channels, num_classes, 1, bias=False)
        self.contrastive = contrastive
        self.co_attention_loss = co_attention_loss
        self.contrastive_start_epoch = contrastive_start_epoch
        self.contrastive_skip_empty = contrastive_skip_empty  # checked by the setter
        self.loss_weighting = loss_weighting
        #: current 0-based training epoch, set by MCISTrainingHook
        self.epoch: Optional[int] = None

    @property
    def contrastive_skip_empty(self) -> str:
        """When a contrastive term is left out (one of ``CONTRASTIVE_SKIP_RULES``)."""
        return self._contrastive_skip_empty

    @contrastive_skip_empty.setter
    def contrastive_skip_empty(self, value: Union[str, bool]) -> None:
        self._contrastive_skip_empty = contrastive_skip_rule(value)

    # ------------------------------------------------------------------ branches
    def image_branch(self, feats: Features) -> Dict[str, Tensor]:
        """Basic branch: ``features`` F, ``cams`` S = phi(F), ``logits`` s = GAP(S)."""
        x = self.select_input(feats)
        features = self.branch.convs(x)
        cams = self.branch.classifier(self.branch.dropout(features))
        return dict(features=features, cams=cams, logits=cams.mean(dim=(2, 3)))

    def classify_co(self, features: Tensor) -> Tensor:
        """Class maps of co-attentive / contrastive features (separate or shared phi)."""
        classifier = self.branch.classifier if self.co_classifier is None \
            else self.co_classifier
        return classifier(features)

    def pair_branches(self, feat_m: Tensor, feat_n: Tensor) -> Dict[str, Tensor]:
        """Co-attention and contrastive outputs of pairs ``(m, n)`` with full-size features.

        Returns ``co_cams_m/n``, ``co_logits_m/n``, ``contrast_cams_m/n``,
        ``contrast_logits_m/n`` and ``common_gates_m/n`` (B_m, B_n).
        """
        co_m, co_n, _, _ = co_attention(feat_m, feat_n, self.affinity)
        outputs = {}
        for side, feat, co_feat in (('m', feat_m, co_m), ('n', feat_n, co_n)):
            co_cams = self.classify_co(co_feat)
            outputs[f'co_cams_{side}'] = co_cams
            outputs[f'co_logits_{side}'] = co_cams.mean(dim=(2, 3))
            if self.contrastive:
                own, gate = contrastive_features(feat, co_feat, self.common_gate)
                contrast_cams = self.classify_co(own)
                outputs[f'contrast_cams_{side}'] = contrast_cams
                outputs[f'contrast_logits_{side}'] = contrast_cams.mean(dim=(2, 3))
                outputs[f'common_gates_{side}'] = gate
        return outputs

    def forward(self, feats: Features, data_samples: Optional[list] = None) -> Dict[str, Tensor]:
        outputs = self.image_branch(feats)
        pairs = group_pairs(data_samples)
        if not pairs:
            return outputs
        features = outputs['features']
        size = tuple(features.shape[-2:])
        index = torch.tensor(pairs, dtype=torch.long, device=features.device)
        valid = [valid_feature_size(sample, size) for sample in data_samples]
        if all(v == size for v in valid):  # training: one batched call
            branches = self.pair_branches(features[index[:, 0]], features[index[:, 1]])
        else:  # images padded into the batch: attend only to each image's own cells
            per_pair = []
            for m, n in pairs:
                (hm, wm), (hn, wn) = valid[m], valid[n]
                out = self.pair_branches(features[m:m + 1, :, :hm, :wm],
                                         features[n:n + 1, :, :hn, :wn])
                for key, value in out.items():
                    if value.dim() == 4:  # pad maps back to the batch's feature size
                        out[key] = F.pad(value, (0, size[1] - value.shape[-1],
                                                 0, size[0] - value.shape[-2]))
                per_pair.append(out)
            branches = {key: torch.cat([out[key] for out in per_pair]) for key in per_pair[0]}
        outputs['pair_index'] = index
        for name in ('co_cams', 'co_logits', 'contrast_cams', 'contrast_logits', 'common_gates'):
            if f'{name}_m' in branches:
                outputs[name] = torch.stack([branches[f'{name}_m'], branches[f'{name}_n']], 1)
        return outputs

    # ------------------------------------------------------------------ losses (Eqs. 1-10)
    def contrastive_active(self) -> bool:
        """Whether the warm-up (``contrastive_start_epoch``) is over."""
        if not self.contrastive:
            return False
        if self.contrastive_start_epoch == 0:
            return True
        if self.epoch is None:
            raise RuntimeError(
                f'MCISHead.contrastive_start_epoch={self.contrastive_start_epoch} needs the '
                "training epoch: add dict(type='MCISTrainingHook') to custom_hooks (or set "
                'head.epoch), or set contrastive_start_epoch=0.')
        return self.epoch >= self.contrastive_start_epoch

    def contrastive_terms_used(self, only_m: Tensor, only_n: Tensor,
                               with_contrastive: bool) -> Tuple[bool, bool]:
        """Whether the terms of ``l_m \\ l_n`` and ``l_n \\ l_m`` (B, K each) enter the loss
        (``contrastive_skip_empty``; authors: train.py L278-282)."""
        if not with_contrastive:
            return False, False
        has_m, has_n = bool((only_m > 0).any()), bool((only_n > 0).any())
        if self.contrastive_skip_empty == 'own_side_empty':
            return has_m, has_n
        if self.contrastive_skip_empty == 'both_sides_empty':
            return (has_m or has_n, ) * 2
        return True, True

    def _pair_mean(self, loss: Tensor) -> Tensor:
        # 'code': one mean over the 2P rows = (CE_m + CE_n) / 2; 'paper' (Eq. 10): CE_m + CE_n
        return loss * 2 if self.loss_weighting == 'paper' else loss

    def pair_losses(self, logits_m: Tensor, logits_n: Tensor, labels_m: Tensor,
                    labels_n: Tensor, branches: Dict[str, Tensor],
                    with_contrastive: bool) -> Dict[str, Tensor]:
        """``L_basic + L_co-att (+ L_contrast)`` of pairs (Eqs. 1, 5, 9)."""
        losses = dict(loss_basic=self._pair_mean(self.loss_cls(
            torch.cat([logits_m, logits_n]), torch.cat([labels_m, labels_n]))))
        co_logits = torch.cat([branches['co_logits_m'], branches['co_logits_n']])
        common = label_intersection(labels_m, labels_n)
        if self.co_attention_loss:
            losses['loss_co_att'] = self._pair_mean(
                self.loss_cls(co_logits, torch.cat([common, common])))
        else:  # keep W_P / the co classifier in the graph (DDP) without a gradient
            losses['loss_co_att'] = co_logits.sum() * 0
        if 'contrast_logits_m' in branches:
            contrast_m, contrast_n = branches['contrast_logits_m'], branches['contrast_logits_n']
            only_m = label_difference(labels_m, labels_n)
            only_n = label_difference(labels_n, labels_m)
            # zero, not absent, when skipped: the parameters stay in the graph (DDP)
            total = (contrast_m.sum() + contrast_n.sum()) * 0
            use_m, use_n = self.contrastive_terms_used(only_m, only_n, with_contrastive)
            if use_m:
                total = total + self.loss_cls(contrast_m, only_m)
            if use_n:
                total = total + self.loss_cls(contrast_n, only_n)
            losses['loss_contrast'] = total
        return losses

    def loss(self, outputs: Dict[str, Tensor], data_samples: Sequence) -> Dict[str, Tensor]:
        """Eq. 10 over the pairs of the batch; see the class docstring for the weighting.

        Raises:
            ValueError: the batch has no pairs (train MCIS on ``ImageGroupDataset`` with
                ``ClassPairSampler`` and ``group_collate``).
        """
        if self.loss_cls is None:
            raise NotImplementedError('MCISHead needs loss_cls')
        if 'pair_index' not in outputs:
            raise ValueError(
                'MCISHead.loss got a batch without image pairs: train MCIS on pairs, '
                "train_dataloader.dataset=dict(type='ImageGroupDataset', group_size=2, ...), "
                "sampler=dict(type='ClassPairSampler') and collate_fn=dict(type="
                "'group_collate').")
        labels = self.stack_gt_labels(data_samples, device=outputs['logits'].device)
        index = outputs['pair_index']
        branches = {f'{name}_{side}': outputs[name][:, position]
                    for name in ('co_logits', 'contrast_logits') if name in outputs
                    for position, side in enumerate('mn')}
        return self.pair_losses(outputs['logits'][index[:, 0]], outputs['logits'][index[:, 1]],
                                labels[index[:, 0]], labels[index[:, 1]], branches,
                                with_contrastive=self.contrastive_active())

    def self_pair_losses(self, anchor: Dict[str, Tensor], partner: Dict[str, Tensor],
                         labels: Tensor) -> Dict[str, Tensor]:
        """Authors' extra self-pairs (scripts/train.py L209-211, L260-265): ``L_basic +
        L_co-att`` of (I, T(I)) with the image's labels for both; the contrastive outputs are
        not used."""
        branches = self.pair_branches(anchor['features'], partner['features'])
        return self.pair_losses(anchor['logits'], partner['logits'], labels, labels, branches,
                                with_contrastive=False)
