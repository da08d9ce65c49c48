"""OAA's training hooks (spec ``oaa.md`` §1-2): the recorder and the attention drop layer.

:class:`CumulativeMapRecorderHook` (online attention accumulation) reads the training
forward pass that :class:`~wsss_toolbox.models.WSSSClassifier` records in
``model.train_outputs`` (no second forward), computes the attention
``A^c = ReLU(F^c) / max(F^c)`` (OAA Eq. 2) of every ground-truth class of every image in the
batch, applies the score condition and fuses the accepted maps into a
:class:`~wsss_toolbox.methods.oaa.store.CumulativeMapStore` (Eq. 5 or 10).

:class:`AttentionDropHook` is OAA++'s attention drop layer (Jiang et al., TPAMI, Sec. 3.3,
Algorithm 1): with probability ``beta`` an image is fed with the pixels occluded where its
attention from the previous visit, ``A_{t-1}``, exceeds ``delta`` (union over the image's
ground-truth classes); the occluded pixels take the mean colour of the data preprocessor,
i.e. they are 0 after normalisation (authors' code). The attention ``A_t`` of the (possibly
occluded) input is then fused as usual by :class:`CumulativeMapRecorderHook` and becomes the
next previous map.
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

from wsss_toolbox.models.utils import crop_valid_region, normalized_attention
from wsss_toolbox.registry import HOOKS

from .store import CumulativeMapStore, MapUpdate, feature_maps_to_image, sample_geometry

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
        fusion: ``'max'`` (Eq. 5, default) or ``'mean'`` (Eq. 10).
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
               max_epochs: Optional[int] = None) -> List[MapUpdate]:
        """Fuse one batch of the training forward into the store; return the updates."""
        data_samples = recorded['data_samples']
        maps = recorded['cams']
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


# ---------------------------------------------------------------- attention drop (OAA++)
def attention_drop_mask(attention: np.ndarray, feature_stride: Sequence[float],
                        img_shape: Sequence[int], threshold: float) -> torch.Tensor:
    """Pixels of the input image to occlude: ``upsample(max_c A^c) > threshold``.

    Args:
        attention: (K, h, w) or (h, w) attention maps at feature resolution in [0, 1].
        feature_stride: input pixels per feature cell (s_h, s_w).
        img_shape: (H, W) of the input image (before batch padding).
        threshold: ``delta``.

    Returns:
        bool (H, W) mask.
    """
    attention = torch.as_tensor(np.asarray(attention, dtype=np.float32))
    if attention.dim() == 2:
        attention = attention[None]
    union = attention.amax(dim=0, keepdim=True)  # union of the class masks = max of the maps
    upsampled = feature_maps_to_image(union, feature_stride, img_shape, mode='bilinear')[0]
    return upsampled > threshold


def occlude(image: torch.Tensor, mask: torch.Tensor, fill: Sequence[float]) -> torch.Tensor:
    """Set the masked pixels of a (3, H, W) image to ``fill`` (per channel), in place."""
    fill_values = torch.as_tensor(fill, dtype=torch.float32).round().clamp(0, 255)
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
    from its previous visit, the pixels where ``max_c A_{t-1}^c > threshold`` are set to
    ``fill``. Images seen for the first time are never occluded.

    The previous attention comes from the :class:`CumulativeMapRecorderHook` of the same
    runner (which this hook asks to keep the last map of every image); it is the raw
    attention of the previous visit, not the cumulative map, and is kept whether or not that
    map passed the score condition (Algorithm 1: ``A_t`` becomes the next ``A_{t-1}``).

    Args:
        drop_prob: ``beta``, probability to occlude an image (paper's best 0.5).
        threshold: ``delta``, attention above it is occluded (paper's best 0.6).
        fill: colour of the occluded pixels in the input's channel order (BGR for
            ``LoadImageFromFile``); default: the data preprocessor's mean.
        seed: base seed of the draws (default: the runner's seed).
    """

    priority = 'NORMAL'

    def __init__(self, drop_prob: float = 0.5, threshold: float = 0.6,
                 fill: Optional[Sequence[float]] = None, seed: Optional[int] = None) -> None:
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
        self.recorder.enable_last_maps()
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
            inputs: list of (3, H, W) image tensors (or a (B, 3, H, W) tensor).
            data_samples: their data samples (``img_id``).
            epoch: current epoch (seeds the draws).
        """
        store = self.recorder.store
        dropped = 0
        for index, sample in enumerate(data_samples):
            img_id = str(sample.metainfo.get('img_id'))
            if not self.should_drop(img_id, epoch):
                continue
            previous = store.last_maps(img_id) if img_id in store else None
            if previous is None:
                continue
            image = inputs[index]
            mask = attention_drop_mask(previous, store.meta(img_id)['feature_stride'],
                                       image.shape[-2:], self.threshold)
            occlude(image, mask, self._fill)
            dropped += 1
        return dropped

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if data_batch is None or self.drop_prob == 0:
            return
        dropped = self.drop_batch(data_batch['inputs'], data_batch['data_samples'],
                                  runner.epoch)
        runner.message_hub.update_scalar('train/attention_drop_images', dropped)
