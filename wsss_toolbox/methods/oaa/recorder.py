"""OAA's recorder hook (OAA paper Sec. 3.2): training attention -> cumulative-map store.

:class:`CumulativeMapRecorderHook` (online attention accumulation) reads the training
forward pass that :class:`~wsss_toolbox.models.WSSSClassifier` records in
``model.train_outputs`` (no second forward), computes the attention
``A^c = ReLU(F^c) / max(F^c)`` (OAA Eq. 2, :mod:`.attention`) of every ground-truth class of
every image in the batch, applies the score condition and fuses the accepted maps into a
:class:`~wsss_toolbox.methods.oaa.store.CumulativeMapStore` (Eq. 5 or 10). Its storage and
export settings are grouped (``store=dict(...)``, ``export=dict(...)``,
:mod:`.recorder_options`); the paper-vs-authors switches are named arguments.
"""
import os
import os.path as osp
import pickle
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop

from wsss_toolbox.models.utils import crop_valid_region
from wsss_toolbox.registry import HOOKS

from .attention import (
    ATTENTION_NORMS,
    SCORE_RULES,
    _as_numpy,
    _stacked_labels,
    attention_maps,
    batch_attention,
    score_condition,
)
from .recorder_options import group_options
from .store import EXPORT_MODES, CumulativeMapStore, MapBatchUpdate, MapUpdate, sample_geometry

LAST_RULES = ('visit', 'stored')
CHECKPOINT_KEY = 'wsss_cumulative_maps'


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
        skip_first_epoch: do not accumulate during the first epoch (authors' code; the paper
            initialises M in the first epoch, the default).
        fill_missing_in_last_epoch: in the last epoch accumulate a class's attention even if it
            fails the score condition when the class has no cumulative map yet (authors'
            code), so that every class gets a map.
        last_maps: which attention is kept as a class's "last" map (the drop layer's
            ``A_{t-1}``): ``'visit'`` (default: every visit's map, accepted or not) or
            ``'stored'`` (authors' code: the map of the last visit at which the class was
            accumulated by the score condition -- not by the last-epoch fill, not in a
            skipped first epoch). Set by :class:`AttentionDropHook` (``previous``).
        store: the store's settings (:data:`~.recorder_options.STORE_DEFAULTS`):
            ``bits`` (8 or 16 per map value), ``backend`` (``'memory'`` or ``'memmap'``: one
            file, fixed slot per (image, class)), ``memmap_dir`` (relative to the work dir),
            ``keep_last`` (keep every image's last attention; set by
            :class:`AttentionDropHook`), ``sync_interval`` (also synchronise ranks every this
            many iterations; 0: per epoch only), ``batched`` (fuse a batch whose images share
            one input size as one :class:`~.store.MapBatchUpdate`, the default; ``False``:
            one :class:`~.store.MapUpdate` per image -- the same store).
        export: the files written (:data:`~.recorder_options.EXPORT_DEFAULTS`; folders
            relative to the work dir unless absolute): ``dir`` (the exported stage-2 map
            files; ``None``: no export), ``mode`` (``'toolbox'``, default, or ``'authors'``
            (``res.py``); see :mod:`.export`), ``interpolation`` (of the ``'toolbox'`` mode,
            ``'bicubic'``), ``raw_dir`` (also write the stored uint8 maps at feature
            resolution, the integral attention model's targets in the authors' code,
            ``LoadStoredCumulativeMaps``), ``snapshot_ids`` (images whose maps are saved
            after every epoch to ``<snapshot_dir>/epoch_XXX.pkl``; ``'all'``: every image,
            for ``tools/analysis/oaa_growth_figure.py``) and ``snapshot_dir``.
        **flat: the flat spellings of the grouped settings (``bits=``, ``export_dir=``, ...;
            :data:`~.recorder_options.FLAT_NAMES`), deprecated: each warns and names its new
            spelling.
    """

    priority = 'NORMAL'  # after_train_epoch runs before CheckpointHook (VERY_LOW)

    def __init__(self,
                 fusion: str = 'max',
                 score_rule: str = 'paper',
                 attention_normalization: str = 'clamp',
                 skip_first_epoch: bool = False,
                 fill_missing_in_last_epoch: bool = True,
                 last_maps: str = 'visit',
                 store: Optional[dict] = None,
                 export: Optional[dict] = None,
                 **flat) -> None:
        store, export = group_options(store, export, flat)
        bits, backend = store['bits'], store['backend']
        snapshot_ids = export['snapshot_ids']
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
        self.memmap_dir = store['memmap_dir']
        self.skip_first_epoch = skip_first_epoch
        self.fill_missing_in_last_epoch = fill_missing_in_last_epoch
        self.keep_last = store['keep_last']
        self.last_maps = last_maps
        self.attention_normalization = attention_normalization
        self.export_dir = export['dir']
        self.export_interpolation = export['interpolation']
        if export['mode'] not in EXPORT_MODES:
            raise ValueError("export_mode (export=dict(mode=...)) must be 'toolbox' or "
                             f"'authors', got {export['mode']!r}")
        self.export_mode = export['mode']
        self.export_raw_dir = export['raw_dir']
        self.sync_interval = int(store['sync_interval'])
        self.snapshot_ids = snapshot_ids
        self.snapshot_dir = export['snapshot_dir']
        self.batched = bool(store['batched'])
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

