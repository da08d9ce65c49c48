"""OAA's training hooks (OAA paper Sec. 3.2-3.3): the recorder and the attention drop layer.

:class:`CumulativeMapRecorderHook` (online attention accumulation) reads the training
forward pass that :class:`~wsss_toolbox.models.WSSSClassifier` records in
``model.train_outputs`` (no second forward), computes the attention
``A^c = ReLU(F^c) / max(F^c)`` (OAA Eq. 2) of every ground-truth class of every image in the
batch, applies the score condition and fuses the accepted maps into a
:class:`~wsss_toolbox.methods.oaa.store.CumulativeMapStore` (Eq. 5 or 10).

:class:`AttentionDropHook` is OAA++'s attention drop layer (Jiang et al., TPAMI, Sec. 3.3,
Algorithm 1): with probability ``beta`` an image is fed with the pixels occluded where its
attention from the previous visit, ``A_{t-1}``, exceeds ``delta`` (union over the image's
ground-truth classes); the occluded pixels take the mean colour of the data preprocessor
(uint8-rounded, about 0 after normalisation; ``exact_fill=True``: exactly 0, as the authors'
code). The attention ``A_t`` of the (possibly occluded) input is then fused as usual by
:class:`CumulativeMapRecorderHook` and becomes the next previous map (by default; the
authors' code reads each class's last *stored* map instead, ``previous='stored'``, and unites
per-class masks, ``mask='union'``).
"""

import os.path as osp
import pickle
import zlib
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop

from wsss_toolbox.maps.normalize import normalize_maps
from wsss_toolbox.models.utils import crop_valid_region, normalized_attention
from wsss_toolbox.registry import HOOKS

from .store import (
    CumulativeMapStore,
    MapBatchUpdate,
    MapUpdate,
    feature_maps_to_image,
    sample_geometry,
)

SCORE_RULES = ('paper', 'topk', 'topk_sigmoid', 'always')
ATTENTION_NORMS = ('clamp', 'add_eps')
LAST_RULES = ('visit', 'stored')
CHECKPOINT_KEY = 'wsss_cumulative_maps'


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


@HOOKS.register_module()
class CumulativeMapRecorderHook(Hook):
    """Online attention accumulation (OAA, Jiang et al., Sec. 3.2).

    After every training iteration the hook reads ``model.train_outputs`` (raw maps ``F``,
    logits and data samples of the training forward), computes ``A = ReLU(F) / max(F)`` of the
    ground-truth classes of every image on the valid (unpadded) region, and fuses the maps
    whose class passes the score condition into the image's cumulative maps. At the end of
    training the maps are written in stage 2's map format at the original image size.

    Training must keep every image's geometry fixed across epochs (no random crop / flip /
    resize): an image whose feature size changes, or that carries ``flip=True`` or a
    ``crop_bbox``, raises an error.

    Distributed training (``torchrun``): every rank records its own images at once and keeps
    a log of its updates; the logs are exchanged (``all_gather_object``) at the end of every
    epoch (before the checkpoint hook saves), before iteration-based checkpoints, every
    ``sync_interval`` iterations when set, and before the export. All store operations are
    order independent, so every rank ends with the store a single process would build from
    the same visits.

    The store is saved into every checkpoint (key ``'wsss_cumulative_maps'``) and restored on
    ``--resume``; a checkpoint loaded with ``load_from`` (not resumed) starts an empty store.

    Args:
        fusion: ``'max'`` (Eq. 5, default) or ``'mean'`` (Eq. 10).
        score_rule: ``'paper'`` (default: target score above every non-target score),
            ``'topk'`` (top-K of the logits, ties in the class's favour), ``'topk_sigmoid'``
            (authors' code: top-K of float32 sigmoid probabilities, argsort order on ties) or
            ``'always'``; see :func:`score_condition`.
        attention_normalization: ``'clamp'`` (default: divide by ``max(max F, 1e-5)``) or
            ``'add_eps'`` (authors' code: divide by ``max + 1e-8``); see
            :func:`attention_maps`.
        bits: 8 or 16 bits per stored map value.
        backend: ``'memory'`` or ``'memmap'`` (one file, fixed slot per (image, class)).
        memmap_dir: memmap folder, relative to the work dir (default ``'cumulative_store'``).
        skip_first_epoch: do not accumulate during the first epoch (authors' code; the paper
            initialises M in the first epoch, the default).
        fill_missing_in_last_epoch: in the last epoch accumulate a class's attention even if it
            fails the score condition when the class has no cumulative map yet (authors'
            code), so that every class gets a map.
        keep_last: keep the last attention of every image (set automatically by
            :class:`AttentionDropHook`).
        last_maps: which attention is kept as a class's "last" map (the drop layer's
            ``A_{t-1}``): ``'visit'`` (default: every visit's map, accepted or not) or
            ``'stored'`` (authors' code: the map of the last visit at which the class was
            accumulated by the score condition -- not by the last-epoch fill, not in a
            skipped first epoch). Set by :class:`AttentionDropHook` (``previous``).
        export_dir: folder of the exported map files, relative to the work dir unless
            absolute (``None``: no export).
        export_interpolation: upsampling of the ``'toolbox'`` export (``'bicubic'``).
        export_mode: ``'toolbox'`` (default: bicubic to the network input, geometry undone,
            resized to the original size, clipped at 0, min-max) or ``'authors'`` (``res.py``:
            one bicubic resize of the stored uint8 map to the original size, saturated at
            0 and 255, min-max); see :meth:`CumulativeMapStore.export_image`.
        export_raw_dir: also write the stored uint8 maps at feature resolution to this
            folder (relative to the work dir), the targets of the integral attention model
            in the authors' code (``LoadStoredCumulativeMaps``); None: not written.
        sync_interval: also synchronise ranks every this many iterations (0: per epoch only).
        snapshot_ids: images whose cumulative maps are saved after every epoch to
            ``<work_dir>/<snapshot_dir>/epoch_XXX.pkl`` (a store state dict); ``'all'`` for
            every image (the growth figure, ``tools/analysis/oaa_growth_figure.py``).
        snapshot_dir: folder of the snapshots, relative to the work dir.
        batched: fuse a batch whose images share one input size as one
            :class:`~wsss_toolbox.methods.oaa.store.MapBatchUpdate` (array operations, no
            Python work per map; default); ``False``: one update per image (the reference the
            tests compare with). Both give the same store.
    """

    priority = 'NORMAL'  # after_train_epoch runs before CheckpointHook (VERY_LOW)

    def __init__(self,
                 fusion: str = 'max',
                 score_rule: str = 'paper',
                 bits: int = 8,
                 backend: str = 'memory',
                 memmap_dir: str = 'cumulative_store',
                 skip_first_epoch: bool = False,
                 fill_missing_in_last_epoch: bool = True,
                 keep_last: bool = False,
                 last_maps: str = 'visit',
                 attention_normalization: str = 'clamp',
                 export_dir: Optional[str] = 'cumulative_maps',
                 export_interpolation: str = 'bicubic',
                 export_mode: str = 'toolbox',
                 export_raw_dir: Optional[str] = None,
                 sync_interval: int = 0,
                 snapshot_ids: Optional[Union[str, Sequence[str]]] = None,
                 snapshot_dir: str = 'cumulative_map_snapshots',
                 batched: bool = True) -> None:
        if score_rule not in SCORE_RULES:
            raise ValueError(f'score_rule must be one of {SCORE_RULES}, got {score_rule!r}')
        # validate fusion / bits / backend now rather than at the first iteration
        CumulativeMapStore(fusion=fusion, bits=bits, backend='memory')
        if backend not in ('memory', 'memmap'):
            raise ValueError(f"backend must be 'memory' or 'memmap', got {backend!r}")
        if last_maps not in LAST_RULES:
            raise ValueError(f'last_maps must be one of {LAST_RULES}, got {last_maps!r}')
        if attention_normalization not in ATTENTION_NORMS:
            raise ValueError(f'attention_normalization must be one of {ATTENTION_NORMS}, '
                             f'got {attention_normalization!r}')
        if isinstance(snapshot_ids, str) and snapshot_ids != 'all':
            raise ValueError("snapshot_ids must be a list of image ids or 'all'")
        self.fusion = fusion
        self.score_rule = score_rule
        self.bits = bits
        self.backend = backend
        self.memmap_dir = memmap_dir
        self.skip_first_epoch = skip_first_epoch
        self.fill_missing_in_last_epoch = fill_missing_in_last_epoch
        self.keep_last = keep_last
        self.last_maps = last_maps
        self.attention_normalization = attention_normalization
        self.export_dir = export_dir
        self.export_interpolation = export_interpolation
        if export_mode not in ('toolbox', 'authors'):
            raise ValueError(f"export_mode must be 'toolbox' or 'authors', got {export_mode!r}")
        self.export_mode = export_mode
        self.export_raw_dir = export_raw_dir
        self.sync_interval = int(sync_interval)
        self.snapshot_ids = snapshot_ids
        self.snapshot_dir = snapshot_dir
        self.batched = bool(batched)
        self._store: Optional[CumulativeMapStore] = None
        self._work_dir: Optional[str] = None
        self._pending: List[Union[MapUpdate, MapBatchUpdate]] = []
        self._loaded_state: Optional[dict] = None
        self._image_classes: Optional[dict] = None
        self._checkpoint_iter_interval = 0
        self.last_export_dir: Optional[str] = None

    # ------------------------------------------------------------------ the store
    def enable_last_maps(self, rule: Optional[str] = None) -> None:
        """Ask for the last attention of every image (the attention drop layer needs it);
        ``rule`` sets :attr:`last_maps` (``'visit'`` / ``'stored'``)."""
        if self._store is not None and not self._store.keep_last:
            raise RuntimeError('enable_last_maps() must be called before the store is created '
                               '(in before_run)')
        if rule is not None:
            if rule not in LAST_RULES:
                raise ValueError(f'last map rule must be one of {LAST_RULES}, got {rule!r}')
            self.last_maps = rule
        self.keep_last = True

    @property
    def store(self) -> CumulativeMapStore:
        if self._store is None:
            memmap_dir = self.memmap_dir
            if self.backend == 'memmap':
                rank, world_size = get_dist_info()
                base = memmap_dir if osp.isabs(memmap_dir) else osp.join(
                    self._work_dir or '.', memmap_dir)
                memmap_dir = base if world_size == 1 else osp.join(base, f'rank{rank}')
            self._store = CumulativeMapStore(fusion=self.fusion, bits=self.bits,
                                             keep_last=self.keep_last, backend=self.backend,
                                             memmap_dir=memmap_dir)
            if self.backend == 'memmap':
                if self._image_classes is None:
                    raise RuntimeError('the memmap backend needs the training images: the '
                                       'hook must see before_run')
                self._store.reserve(self._image_classes)
        return self._store

    def _resolve(self, runner, path: str) -> str:
        return path if osp.isabs(path) else osp.join(runner.work_dir, path)

    # ------------------------------------------------------------------ hook points
    def before_run(self, runner) -> None:
        self._work_dir = runner.work_dir
        if self.backend == 'memmap':
            dataset = runner.train_dataloader.dataset
            self._image_classes = {
                str(info['img_id']): np.flatnonzero(np.asarray(info['gt_label']) > 0)
                for info in (dataset.get_data_info(i) for i in range(len(dataset)))}
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook) and not hook.by_epoch and hook.interval > 0:
                self._checkpoint_iter_interval = hook.interval

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # decided in before_train: only a resumed run (iter > 0) continues the store
        self._loaded_state = checkpoint.get(CHECKPOINT_KEY)

    def before_train(self, runner) -> None:
        state, self._loaded_state = self._loaded_state, None
        if runner.iter > 0:
            if state is None:
                print_log('CumulativeMapRecorderHook: the resumed checkpoint holds no '
                          'cumulative maps; accumulation starts from scratch', logger='current',
                          level=30)
            else:
                self.store.load_state_dict(state)
                print_log(f'CumulativeMapRecorderHook: restored the cumulative maps of '
                          f'{len(self.store)} images from the checkpoint', logger='current')
        else:
            self.store  # noqa: B018  (create it; a non-resumed run starts empty)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        recorded = getattr(model, 'train_outputs', None)
        if not recorded or 'cams' not in recorded:
            raise RuntimeError(
                'CumulativeMapRecorderHook needs a model that records its training forward in '
                '`train_outputs` (maps, logits, data_samples), e.g. WSSSClassifier')
        # "last epoch" only means something for epoch-based training
        epoch_based = isinstance(runner.train_loop, EpochBasedTrainLoop)
        updates = self.record(recorded, stamp=runner.iter, epoch=runner.epoch,
                              max_epochs=runner.max_epochs if epoch_based else None)
        if get_dist_info()[1] > 1:
            self._pending.extend(updates)
            next_iter = runner.iter + 1
            if (self.sync_interval and next_iter % self.sync_interval == 0) or (
                    self._checkpoint_iter_interval
                    and next_iter % self._checkpoint_iter_interval == 0):
                self.synchronize()

    def record(self, recorded: dict, stamp: int, epoch: int = 0,
               max_epochs: Optional[int] = None) -> List[Union[MapUpdate, MapBatchUpdate]]:
        """Fuse one batch of the training forward into the store; return the updates (one
        :class:`MapBatchUpdate` when the batch took the batched path)."""
        data_samples = recorded['data_samples']
        maps = recorded['cams']
        batch_input_shape = recorded.get('batch_input_shape', tuple(maps.shape[-2:]))
        store = self.store
        last_epoch = max_epochs is not None and epoch == max_epochs - 1
        if self.batched:
            batch = self._record_batch(maps, recorded['logits'], data_samples,
                                       batch_input_shape, stamp, epoch, last_epoch)
            if batch is not None:
                return batch
        per_image = batch_attention(maps, data_samples, batch_input_shape,
                                    quantize=store.quantize, logits=recorded['logits'],
                                    normalization=self.attention_normalization)
        if not per_image:
            return []
        labels = np.stack([_as_numpy(s.gt_label) for s in data_samples])
        logits = np.stack([item['logits'] for item in per_image])
        passed = score_condition(logits, labels, self.score_rule)
        updates = []
        for index, item in enumerate(per_image):
            metainfo = item['metainfo']
            if metainfo.get('flip', False) or metainfo.get('crop_bbox') is not None:
                raise ValueError(
                    f'image "{item["img_id"]}" was flipped or cropped by the training pipeline:'
                    ' OAA fuses maps of the same image across epochs and needs a fixed '
                    'geometry. Remove RandomFlip / RandomCrop from train_pipeline.')
            accepted = passed[index, item['classes']]
            if self.skip_first_epoch and epoch == 0:
                accepted = np.zeros_like(accepted)
            # 'stored': the drop layer's previous map is the last one the score condition
            # accepted (the authors' per-class file), never a last-epoch fill
            keep = np.asarray(accepted, bool).copy() if self.last_maps == 'stored' else None
            if self.fill_missing_in_last_epoch and last_epoch and item['img_id'] in store:
                accepted = accepted | (store.counts(item['img_id']) == 0)
            elif self.fill_missing_in_last_epoch and last_epoch:
                accepted = np.ones_like(accepted)
            # the geometry is kept from the first visit: only new images carry it
            meta = {} if item['img_id'] in store else sample_geometry(
                metainfo, item['feature_stride'])
            update = MapUpdate(item['img_id'], item['classes'], item['attention'],
                               np.asarray(accepted, bool), int(stamp), meta, keep)
            store.apply(update)
            updates.append(update)
        return updates

    def _record_batch(self, maps: torch.Tensor, logits: torch.Tensor, data_samples: Sequence,
                      batch_input_shape: Sequence[int], stamp: int, epoch: int,
                      last_epoch: bool) -> Optional[List[MapBatchUpdate]]:
        """The batched path of :meth:`record`: every map of the batch in one array, one
        :meth:`CumulativeMapStore.apply_batch`. None when the images' input sizes differ
        (their valid feature regions differ: :meth:`record` goes image by image)."""
        pad_h, pad_w = int(batch_input_shape[0]), int(batch_input_shape[1])
        metainfos = [sample.metainfo for sample in data_samples]
        img_shapes = {tuple(metainfo.get('img_shape', (pad_h, pad_w))[:2])
                      for metainfo in metainfos}
        if len(img_shapes) != 1:
            return None
        labels = _stacked_labels(data_samples)
        image_index, classes = np.nonzero(labels > 0)
        if not len(classes):
            return []  # no ground-truth class in the batch: nothing to record
        img_ids = tuple(str(metainfo.get('img_id')) for metainfo in metainfos)
        for img_id, metainfo in zip(img_ids, metainfos):
            if metainfo.get('flip', False) or metainfo.get('crop_bbox') is not None:
                raise ValueError(
                    f'image "{img_id}" was flipped or cropped by the training pipeline:'
                    ' OAA fuses maps of the same image across epochs and needs a fixed '
                    'geometry. Remove RandomFlip / RandomCrop from train_pipeline.')
        store = self.store
        cropped = crop_valid_region(maps, (pad_h, pad_w), next(iter(img_shapes)))
        chosen = cropped[torch.as_tensor(image_index, device=maps.device),
                         torch.as_tensor(classes, device=maps.device)]
        attention = attention_maps(chosen.float(), self.attention_normalization)
        num_scores = logits.numel()
        flat = torch.cat([logits.detach().float().flatten(), attention.flatten()]
                         ).cpu().numpy()  # one copy to the CPU
        scores = flat[:num_scores].reshape(len(data_samples), -1)
        attention = store.quantize(flat[num_scores:]).reshape(attention.shape)
        accepted = score_condition(scores, labels, self.score_rule)[image_index, classes]
        if self.skip_first_epoch and epoch == 0:
            accepted[:] = False
        # 'stored': the drop layer's previous map is the last one the score condition
        # accepted (the authors' per-class file), never a last-epoch fill
        keep = accepted.copy() if self.last_maps == 'stored' else None
        feat_h, feat_w = maps.shape[-2:]
        stride = (pad_h / feat_h, pad_w / feat_w)
        # the geometry is kept from the first visit: only new images carry it
        metas = tuple({} if img_id in store else sample_geometry(metainfo, stride)
                      for img_id, metainfo in zip(img_ids, metainfos))
        offsets = np.zeros(len(img_ids) + 1, np.int64)
        np.cumsum(np.bincount(image_index, minlength=len(img_ids)), out=offsets[1:])
        batch = MapBatchUpdate(img_ids, offsets, classes.astype(np.int64), attention,
                               accepted, int(stamp), metas, keep)
        return [store.apply_batch(
            batch, accept_missing=self.fill_missing_in_last_epoch and last_epoch)]

    def synchronize(self) -> None:
        """Exchange the updates recorded since the last call with the other ranks (collective:
        every rank must call it)."""
        rank, world_size = get_dist_info()
        if world_size == 1:
            self._pending = []
            return
        gathered = all_gather_object(self._pending)
        self._pending = []
        store = self.store
        for source, updates in enumerate(gathered):
            if source != rank:
                store.apply_updates(updates)

    def after_train_epoch(self, runner) -> None:
        self.synchronize()
        if self.snapshot_ids is None or get_dist_info()[0] != 0:
            return
        ids = None if self.snapshot_ids == 'all' else list(self.snapshot_ids)
        folder = self._resolve(runner, self.snapshot_dir)
        import os
        os.makedirs(folder, exist_ok=True)
        state = self.store.state_dict(ids)
        state['epoch'] = runner.epoch + 1
        with open(osp.join(folder, f'epoch_{runner.epoch + 1:03d}.pkl'), 'wb') as f:
            pickle.dump(state, f, protocol=pickle.HIGHEST_PROTOCOL)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # rank 0 only (mmengine's save_checkpoint is master_only): ranks were synchronised
        # at the end of the epoch / at the checkpoint iteration
        checkpoint[CHECKPOINT_KEY] = self.store.state_dict()

    def after_train(self, runner) -> None:
        self.synchronize()
        if self.export_dir is None:
            return
        rank, world_size = get_dist_info()
        folder = self._resolve(runner, self.export_dir)
        raw = None if self.export_raw_dir is None else self._resolve(runner,
                                                                     self.export_raw_dir)
        written = self.store.export(folder, rank=rank, world_size=world_size,
                                    interpolation=self.export_interpolation,
                                    mode=self.export_mode, raw_dir=raw)
        self.last_export_dir = folder
        print_log(f'CumulativeMapRecorderHook: rank {rank} wrote {written} map files to '
                  f'{folder} ({len(self.store)} images, {self.store.num_maps} maps, '
                  f'{self.store.nbytes / 2**20:.2f} MiB store)', logger='current')
        if world_size > 1:
            from mmengine.dist import barrier
            barrier()


# ---------------------------------------------------------------- attention drop (OAA++)
DROP_MASKS = ('max', 'union')
DROP_PREVIOUS = ('last_visit', 'stored')


def attention_drop_mask(attention: np.ndarray, feature_stride: Sequence[float],
                        img_shape: Sequence[int], threshold: float,
                        mode: str = 'max') -> torch.Tensor:
    """Pixels of the input image to occlude.

    ``mode='max'``: ``upsample(max_c A^c) > threshold`` (one map, the maximum over the
    classes, upsampled then thresholded); ``mode='union'`` (authors' code): every class map is
    upsampled and thresholded on its own and the masks are united,
    ``OR_c (upsample(A^c) > threshold)``. The two differ where the bilinear upsampling of the
    maximum exceeds the maximum of the upsampled maps (between cells of different classes).

    Args:
        attention: (K, h, w) or (h, w) attention maps at feature resolution in [0, 1].
        feature_stride: input pixels per feature cell (s_h, s_w).
        img_shape: (H, W) of the input image (before batch padding).
        threshold: ``delta``.
        mode: ``'max'`` or ``'union'``.

    Returns:
        bool (H, W) mask.
    """
    if mode not in DROP_MASKS:
        raise ValueError(f'drop mask mode must be one of {DROP_MASKS}, got {mode!r}')
    attention = torch.as_tensor(np.asarray(attention, dtype=np.float32))
    if attention.dim() == 2:
        attention = attention[None]
    if mode == 'max':
        attention = attention.amax(dim=0, keepdim=True)
    upsampled = feature_maps_to_image(attention, feature_stride, img_shape, mode='bilinear')
    return (upsampled > threshold).any(dim=0)


def occlude(image: torch.Tensor, mask: torch.Tensor, fill: Sequence[float],
            exact: bool = False) -> torch.Tensor:
    """Set the masked pixels of a (3, H, W) image to ``fill`` (per channel).

    ``exact=False``: in place, the fill rounded to the image's integer colours (uint8
    input). ``exact=True``: the image is converted to float32 (a new tensor unless it already
    is float32) and takes the fill exactly, so that the data preprocessor normalises the
    occluded pixels to exactly 0 (authors' code) when ``fill`` is its mean.

    Returns:
        the occluded image (``image`` itself unless ``exact`` converted it).
    """
    fill_values = torch.as_tensor(fill, dtype=torch.float32)
    if exact:
        if image.dtype != torch.float32:
            image = image.float()
    else:
        fill_values = fill_values.round().clamp(0, 255)
    for channel in range(image.shape[0]):
        image[channel][mask] = fill_values[channel].to(image.dtype)
    return image


def preprocessor_fill(model) -> Tuple[float, ...]:
    """Per-channel colour (input channel order) that the model's ``ImgDataPreprocessor``
    normalises to 0: its mean, reversed when it converts BGR <-> RGB."""
    preprocessor = getattr(model, 'data_preprocessor', None)
    mean = getattr(preprocessor, 'mean', None)
    if mean is None or not getattr(preprocessor, '_enable_normalize', True):
        return (0.0, 0.0, 0.0)
    values = [float(v) for v in mean.flatten().tolist()]
    if getattr(preprocessor, '_channel_conversion', False):
        values = values[::-1]
    return tuple(values)


@HOOKS.register_module()
class AttentionDropHook(Hook):
    """Occlude high-attention pixels of the training inputs (OAA++, Algorithm 1).

    In ``before_train_iter`` (before the data preprocessor) every image of the batch draws
    ``r ~ U(0, 1)`` from a generator seeded with ``(seed, epoch, img_id)`` (reproducible, and
    the same on every rank); if ``r < drop_prob`` and the recorder knows the image's attention
    from its previous visit, the pixels where ``upsample(max_c A_{t-1}^c) > threshold``
    (``mask='max'``) or ``OR_c upsample(A_{t-1}^c) > threshold`` (``mask='union'``) are set
    to ``fill``. Images seen for the first time are never occluded.

    The previous attention comes from the :class:`CumulativeMapRecorderHook` of the same
    runner (which this hook asks to keep the last map of every image); it is the raw
    attention, not the cumulative map. ``previous='last_visit'`` (default) keeps the previous
    visit's map whether or not it passed the score condition (Algorithm 1: ``A_t`` becomes
    the next ``A_{t-1}``); ``previous='stored'`` keeps per class the last map the score
    condition accepted (the authors' per-class file).

    Args:
        drop_prob: ``beta``, probability to occlude an image (paper's best 0.5).
        threshold: ``delta``, attention above it is occluded (paper's best 0.6).
        fill: colour of the occluded pixels in the input's channel order (BGR for
            ``LoadImageFromFile``); default: the data preprocessor's mean.
        seed: base seed of the draws (default: the runner's seed).
        previous: which attention is occluded: ``'last_visit'`` (default; Algorithm 1's
            ``A_{t-1}``: the previous visit's map of every class, accepted or not) or
            ``'stored'`` (authors' code: per class, the map of the last visit at which the
            score condition accumulated it -- the per-class file their code writes; none in a
            skipped first epoch, never a last-epoch fill; a class without one drops nothing).
        mask: ``'max'`` (default: threshold the upsampled maximum over the classes) or
            ``'union'`` (authors' code: union of the per-class thresholded upsampled maps);
            see :func:`attention_drop_mask`.
        exact_fill: ``False`` (default): the fill colour rounded to uint8 (≈ 0 after
            normalisation); ``True`` (authors' code): occluded images become float32 with the
            exact fill, i.e. exactly 0 after normalisation.
    """

    priority = 'NORMAL'

    def __init__(self, drop_prob: float = 0.5, threshold: float = 0.6,
                 fill: Optional[Sequence[float]] = None, seed: Optional[int] = None,
                 previous: str = 'last_visit', mask: str = 'max',
                 exact_fill: bool = False) -> None:
        if previous not in DROP_PREVIOUS:
            raise ValueError(f'previous must be one of {DROP_PREVIOUS}, got {previous!r}')
        if mask not in DROP_MASKS:
            raise ValueError(f'mask must be one of {DROP_MASKS}, got {mask!r}')
        self.previous = previous
        self.mask = mask
        self.exact_fill = bool(exact_fill)
        if not 0 <= drop_prob <= 1:
            raise ValueError(f'drop_prob (beta) must be in [0, 1], got {drop_prob}')
        if not 0 <= threshold <= 1:
            raise ValueError(f'threshold (delta) must be in [0, 1], got {threshold}')
        self.drop_prob = float(drop_prob)
        self.threshold = float(threshold)
        self.fill = None if fill is None else tuple(float(v) for v in fill)
        self.seed = seed
        self.recorder: Optional[CumulativeMapRecorderHook] = None
        self._fill: Tuple[float, ...] = (0.0, 0.0, 0.0)
        self._seed = 0

    def before_run(self, runner) -> None:
        recorders = [hook for hook in runner.hooks
                     if isinstance(hook, CumulativeMapRecorderHook)]
        if not recorders:
            raise RuntimeError('AttentionDropHook needs a CumulativeMapRecorderHook in '
                               'custom_hooks: it occludes the attention the recorder saw at '
                               "the image's previous visit")
        self.recorder = recorders[0]
        self.recorder.enable_last_maps('stored' if self.previous == 'stored' else 'visit')
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self._fill = self.fill if self.fill is not None else preprocessor_fill(model)
        self._seed = int(self.seed if self.seed is not None else (runner.seed or 0))

    def should_drop(self, img_id: str, epoch: int) -> bool:
        """``r < beta`` for ``r`` drawn from the generator of ``(seed, epoch, img_id)``."""
        key = zlib.crc32(str(img_id).encode('utf-8'))
        rng = np.random.default_rng([self._seed & 0xFFFFFFFF, int(epoch), key])
        return bool(rng.random() < self.drop_prob)

    def drop_batch(self, inputs, data_samples, epoch: int) -> int:
        """Occlude the inputs of one batch in place; return how many images were occluded.

        Args:
            inputs: list of (3, H, W) image tensors (or a (B, 3, H, W) tensor; with
                ``exact_fill`` a non-float32 tensor must be converted first, see
                :meth:`before_train_iter`).
            data_samples: their data samples (``img_id``).
            epoch: current epoch (seeds the draws).
        """
        store = self.recorder.store
        dropped = 0
        if self.exact_fill and isinstance(inputs, torch.Tensor) and \
                inputs.dtype != torch.float32:
            raise TypeError('exact_fill needs a list of images or a float32 batch tensor')
        for index, sample in enumerate(data_samples):
            img_id = str(sample.metainfo.get('img_id'))
            if not self.should_drop(img_id, epoch):
                continue
            previous = store.last_maps(img_id) if img_id in store else None
            if previous is None:
                continue
            image = inputs[index]
            mask = attention_drop_mask(previous, store.meta(img_id)['feature_stride'],
                                       image.shape[-2:], self.threshold, mode=self.mask)
            occluded = occlude(image, mask, self._fill, exact=self.exact_fill)
            if occluded is not image:
                inputs[index] = occluded
            dropped += 1
        return dropped

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if data_batch is None or self.drop_prob == 0:
            return
        inputs = data_batch['inputs']
        if self.exact_fill and isinstance(inputs, torch.Tensor) and \
                inputs.dtype != torch.float32:
            inputs = data_batch['inputs'] = inputs.float()
        dropped = self.drop_batch(inputs, data_batch['data_samples'], runner.epoch)
        runner.message_hub.update_scalar('train/attention_drop_images', dropped)
