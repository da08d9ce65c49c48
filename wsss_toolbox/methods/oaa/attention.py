"""OAA's attention and score condition (OAA paper Sec. 3.2, Eq. 2), used by the recorder.

:func:`attention_maps` is ``A^c = ReLU(F^c) / max(F^c)`` (Eq. 2); :func:`batch_attention`
computes it on the valid region of every image of a batch for its ground-truth classes (the
recorder's per-image path, for batches whose images differ in size); :func:`score_condition`
decides which classes may be accumulated.
"""
from typing import Callable, List, Optional, Sequence

import numpy as np
import torch

from wsss_toolbox.maps.normalize import normalize_maps
from wsss_toolbox.models.utils import crop_valid_region, normalized_attention

SCORE_RULES = ('paper', 'topk', 'topk_sigmoid', 'always')
ATTENTION_NORMS = ('clamp', 'add_eps')


def score_condition(logits: np.ndarray, labels: np.ndarray, rule: str = 'paper') -> np.ndarray:
    """Which ground-truth classes may be accumulated (OAA Sec. 3.2).

    Args:
        logits: (B, C) class scores (logits or probabilities: only their order matters).
        labels: (B, C) multi-hot ground truth.
        rule: ``'paper'``: class c of an image passes iff its score is strictly higher than
            the score of every non-target class (always, when the image has no non-target
            class); ``'topk'``: c is among the K highest scores, K = number of the image's
            ground-truth classes (ties count in c's favour); ``'topk_sigmoid'`` (authors'
            code): the scores are turned into float32 sigmoid probabilities, ranked by a
            stable ascending ``argsort`` and the last K indices pass (ties -- e.g. several
            probabilities that round to 1.0 in float32 -- keep the argsort order, so the
            higher class index wins); ``'always'``: every ground-truth class passes.

    Returns:
        bool (B, C), False for every non-target class.
    """
    logits = np.asarray(logits, dtype=np.float64)
    positive = np.asarray(labels) > 0
    if logits.shape != positive.shape or logits.ndim != 2:
        raise ValueError(f'logits {logits.shape} and labels {positive.shape} must both be (B, C)')
    if rule == 'always':
        return positive.copy()
    if rule == 'paper':
        non_target = np.where(positive, -np.inf, logits).max(axis=1, keepdims=True)
        return positive & (logits > non_target)
    if rule == 'topk_sigmoid':
        probs = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        order = np.argsort(probs, axis=1, kind='stable')  # ascending, ties by class index
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.arange(probs.shape[1])[None].repeat(
            len(probs), axis=0), axis=1)
        num_targets = positive.sum(axis=1, keepdims=True)
        return positive & (ranks >= probs.shape[1] - num_targets)
    if rule == 'topk':
        num_targets = positive.sum(axis=1, keepdims=True)
        higher = (logits[:, None, :] > logits[:, :, None]).sum(axis=2)  # (B, C): #scores above
        return positive & (higher < num_targets)
    raise ValueError(f'score_rule must be one of {SCORE_RULES}, got {rule!r}')


def batch_attention(maps: torch.Tensor, data_samples: Sequence,
                    batch_input_shape: Sequence[int],
                    quantize: Optional[Callable[[np.ndarray], np.ndarray]] = None,
                    logits: Optional[torch.Tensor] = None,
                    normalization: str = 'clamp') -> List[dict]:
    """OAA Eq. 2 on the valid region of every image of a batch, for its ground-truth classes.

    All images of the batch are processed together and the result (with ``logits`` when
    given) is copied to the CPU once.

    Args:
        maps: (B, C, h, w) raw class-aware maps ``F`` of the padded batch.
        data_samples: the batch's data samples (``gt_label``, ``img_shape``, ``img_id``).
        batch_input_shape: (H_pad, W_pad) of the network input.
        quantize: optional function applied once to all attention values (e.g.
            :meth:`CumulativeMapStore.quantize`).
        logits: optional (B, C) class scores to bring to the CPU in the same copy.
        normalization: see :func:`attention_maps`.

    Returns:
        per image ``dict(img_id, classes int64 (K,), attention (K, h_i, w_i) float32 or
        quantised, feature_stride (s_h, s_w), metainfo)``, plus ``logits`` (C,) float32
        when ``logits`` is given.
    """
    feat_h, feat_w = maps.shape[-2:]
    pad_h, pad_w = int(batch_input_shape[0]), int(batch_input_shape[1])
    stride = (pad_h / feat_h, pad_w / feat_w)
    selections = []
    metainfos = []
    for index, sample in enumerate(data_samples):
        classes = np.flatnonzero(_as_numpy(sample.gt_label) > 0).astype(np.int64)
        metainfo = sample.metainfo
        metainfos.append(metainfo)
        selections.append((index, classes, metainfo.get('img_shape', (pad_h, pad_w))[:2]))
    pieces = []
    shapes = []
    if not any(len(classes) for _, classes, _ in selections):
        selections = []  # no ground-truth class in the batch: nothing to record
    same_shape = len({tuple(s[2]) for s in selections}) == 1
    if same_shape and selections:
        cropped = crop_valid_region(maps, (pad_h, pad_w), selections[0][2])
        batch_index = torch.as_tensor(
            np.concatenate([np.full(len(c), i) for i, c, _ in selections]), dtype=torch.long)
        class_index = torch.as_tensor(np.concatenate([c for _, c, _ in selections]),
                                      dtype=torch.long)
        chosen = cropped[batch_index.to(maps.device), class_index.to(maps.device)]
        pieces.append(attention_maps(chosen.float(), normalization).flatten())
        shapes = [tuple(cropped.shape[-2:])] * len(selections)
    else:
        for index, classes, img_shape in selections:
            cropped = crop_valid_region(maps[index], (pad_h, pad_w), img_shape)
            chosen = cropped[torch.as_tensor(classes, dtype=torch.long, device=maps.device)]
            pieces.append(attention_maps(chosen.float(), normalization).flatten())
            shapes.append(tuple(cropped.shape[-2:]))
    num_scores = 0
    if logits is not None:
        num_scores = logits.numel()
        pieces.insert(0, logits.detach().float().flatten())
    flat = (torch.cat(pieces) if pieces else maps.new_zeros(0)).cpu().numpy()  # one copy
    scores = flat[:num_scores].reshape(len(data_samples), -1) if num_scores else None
    flat = flat[num_scores:]
    if quantize is not None:
        flat = quantize(flat)
    results = []
    offset = 0
    for (index, classes, _), shape in zip(selections, shapes):
        size = len(classes) * shape[0] * shape[1]
        attention = flat[offset:offset + size].reshape(len(classes), *shape)
        offset += size
        metainfo = metainfos[index]
        results.append(dict(img_id=str(metainfo.get('img_id')), classes=classes,
                            attention=attention, feature_stride=stride, metainfo=metainfo))
        if scores is not None:
            results[-1]['logits'] = scores[index]
    return results


def attention_maps(maps: torch.Tensor, normalization: str = 'clamp') -> torch.Tensor:
    """``A = ReLU(F) / max(F)`` per map (OAA Eq. 2).

    ``normalization='clamp'``: the divisor is ``max(max F, 1e-5)``
    (:func:`~wsss_toolbox.models.utils.normalized_attention`); ``'add_eps'`` (authors'
    code): the divisor is ``max ReLU(F) + 1e-8`` (``normalize_maps(eps_rule='add')``), so a
    map whose maximum is tiny (e.g. 5e-6) still reaches ~1 at its peak.
    """
    if normalization == 'clamp':
        return normalized_attention(maps)
    if normalization == 'add_eps':
        return normalize_maps(torch.relu(maps), 'max', eps=1e-8, eps_rule='add')
    raise ValueError(f'attention normalization must be one of {ATTENTION_NORMS}, '
                     f'got {normalization!r}')


def _stacked_labels(data_samples: Sequence) -> np.ndarray:
    """(B, C) ground truth of a batch, copied to the CPU once."""
    labels = [sample.gt_label for sample in data_samples]
    if all(isinstance(label, torch.Tensor) for label in labels):
        return torch.stack(labels).detach().cpu().numpy()
    return np.stack([_as_numpy(label) for label in labels])


def _as_numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)

