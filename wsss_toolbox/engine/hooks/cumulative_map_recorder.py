"""OAA's online attention accumulation as an mmengine hook (spec ``oaa.md`` §1).

:class:`CumulativeMapRecorderHook` reads the training forward pass that
:class:`~wsss_toolbox.models.WSSSClassifier` records in ``model.train_outputs`` (no second
forward), computes the attention ``A^c = ReLU(F^c) / max(F^c)`` (OAA Eq. 2) of every
ground-truth class of every image in the batch, applies the score condition and fuses the
accepted maps into a :class:`~wsss_toolbox.maps.store.CumulativeMapStore` (Eq. 5 or 10).
"""
import os.path as osp
import pickle
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop

from wsss_toolbox.maps.store import CumulativeMapStore, MapUpdate, sample_geometry
from wsss_toolbox.models.utils import crop_valid_region, normalized_attention
from wsss_toolbox.registry import HOOKS

SCORE_RULES = ('paper', 'topk', 'always')
CHECKPOINT_KEY = 'wsss_cumulative_maps'


def score_condition(logits: np.ndarray, labels: np.ndarray, rule: str = 'paper') -> np.ndarray:
    """Which ground-truth classes may be accumulated (OAA Sec. 3.2).

    Args:
        logits: (B, C) class scores (logits or probabilities: only their order matters).
        labels: (B, C) multi-hot ground truth.
        rule: ``'paper'``: class c of an image passes iff its score is strictly higher than
            the score of every non-target class (always, when the image has no non-target
            class); ``'topk'`` (authors' code): c is among the K highest scores, K = number of
            the image's ground-truth classes (ties count in c's favour); ``'always'``: every
            ground-truth class passes.

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
    if rule == 'topk':
        num_targets = positive.sum(axis=1, keepdims=True)
        higher = (logits[:, None, :] > logits[:, :, None]).sum(axis=2)  # (B, C): #scores above
        return positive & (higher < num_targets)
    raise ValueError(f'score_rule must be one of {SCORE_RULES}, got {rule!r}')


def batch_attention(maps: torch.Tensor, data_samples: Sequence,
                    batch_input_shape: Sequence[int],
                    quantize: Optional[Callable[[np.ndarray], np.ndarray]] = None,
                    logits: Optional[torch.Tensor] = None) -> List[dict]:
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
        pieces.append(normalized_attention(chosen.float()).flatten())
        shapes = [tuple(cropped.shape[-2:])] * len(selections)
    else:
        for index, classes, img_shape in selections:
            cropped = crop_valid_region(maps[index], (pad_h, pad_w), img_shape)
            chosen = cropped[torch.as_tensor(classes, dtype=torch.long, device=maps.device)]
            pieces.append(normalized_attention(chosen.float()).flatten())
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


def _as_numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


@HOOKS.register_module()
class CumulativeMapRecorderHook(Hook):
    """Online attention accumulation (OAA, Jiang et al.; spec oaa.md §1).

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
        fusion: ``'max'`` (Eq. 5, default) or ``'average'`` (Eq. 10).
        score_rule: ``'paper'`` (default: target score above every non-target score),
            ``'topk'`` (authors' code) or ``'always'``; see :func:`score_condition`.
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
        export_dir: folder of the exported map files, relative to the work dir unless
            absolute (``None``: no export).
        export_interpolation: upsampling of the export (``'bicubic'``, authors' code).
        sync_interval: also synchronise ranks every this many iterations (0: per epoch only).
        snapshot_ids: images whose cumulative maps are saved after every epoch to
            ``<work_dir>/<snapshot_dir>/epoch_XXX.pkl`` (a store state dict); ``'all'`` for
            every image (the growth figure, ``tools/analysis/oaa_growth_figure.py``).
        snapshot_dir: folder of the snapshots, relative to the work dir.
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
                 export_dir: Optional[str] = 'cumulative_maps',
                 export_interpolation: str = 'bicubic',
                 sync_interval: int = 0,
                 snapshot_ids: Optional[Union[str, Sequence[str]]] = None,
                 snapshot_dir: str = 'cumulative_map_snapshots') -> None:
        if score_rule not in SCORE_RULES:
            raise ValueError(f'score_rule must be one of {SCORE_RULES}, got {score_rule!r}')
        # validate fusion / bits / backend now rather than at the first iteration
        CumulativeMapStore(fusion=fusion, bits=bits, backend='memory')
        if backend not in ('memory', 'memmap'):
            raise ValueError(f"backend must be 'memory' or 'memmap', got {backend!r}")
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
        self.export_dir = export_dir
        self.export_interpolation = export_interpolation
        self.sync_interval = int(sync_interval)
        self.snapshot_ids = snapshot_ids
        self.snapshot_dir = snapshot_dir
        self._store: Optional[CumulativeMapStore] = None
        self._work_dir: Optional[str] = None
        self._pending: List[MapUpdate] = []
        self._loaded_state: Optional[dict] = None
        self._image_classes: Optional[dict] = None
        self._checkpoint_iter_interval = 0
        self.last_export_dir: Optional[str] = None

    # ------------------------------------------------------------------ the store
    def enable_last_maps(self) -> None:
        """Ask for the last attention of every image (the attention drop layer needs it)."""
        if self._store is not None and not self._store.keep_last:
            raise RuntimeError('enable_last_maps() must be called before the store is created '
                               '(in before_run)')
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
        if not recorded or 'maps' not in recorded:
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
               max_epochs: Optional[int] = None) -> List[MapUpdate]:
        """Fuse one batch of the training forward into the store; return the updates."""
        data_samples = recorded['data_samples']
        maps = recorded['maps']
        batch_input_shape = recorded.get('batch_input_shape', tuple(maps.shape[-2:]))
        store = self.store
        per_image = batch_attention(maps, data_samples, batch_input_shape,
                                    quantize=store.quantize, logits=recorded['logits'])
        if not per_image:
            return []
        labels = np.stack([_as_numpy(s.gt_label) for s in data_samples])
        logits = np.stack([item['logits'] for item in per_image])
        passed = score_condition(logits, labels, self.score_rule)
        last_epoch = max_epochs is not None and epoch == max_epochs - 1
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
            if self.fill_missing_in_last_epoch and last_epoch and item['img_id'] in store:
                accepted = accepted | (store.counts(item['img_id']) == 0)
            elif self.fill_missing_in_last_epoch and last_epoch:
                accepted = np.ones_like(accepted)
            # the geometry is kept from the first visit: only new images carry it
            meta = {} if item['img_id'] in store else sample_geometry(
                metainfo, item['feature_stride'])
            update = MapUpdate(item['img_id'], item['classes'], item['attention'],
                               np.asarray(accepted, bool), int(stamp), meta)
            store.apply(update)
            updates.append(update)
        return updates

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
        written = self.store.export(folder, rank=rank, world_size=world_size,
                                    interpolation=self.export_interpolation)
        self.last_export_dir = folder
        print_log(f'CumulativeMapRecorderHook: rank {rank} wrote {written} map files to '
                  f'{folder} ({len(self.store)} images, {self.store.num_maps} maps, '
                  f'{self.store.nbytes / 2**20:.2f} MiB store)', logger='current')
        if world_size > 1:
            from mmengine.dist import barrier
            barrier()
