"""The toolbox's mechanisms against the mechanisms of the authors' code, side by side in one
run on the same data: throughput of both, their ratio, and the largest difference between
their outputs (so that the ratio compares like with like).

    .venv/bin/python tools/analysis/benchmark_vs_authors.py [--num-images 48]
        [--image-size 128] [--scales 1.0 0.5 1.5 2.0] [--nprocs 1 2] [--repeats 3]
        [--oaa-images 1000] [--oaa-epochs 3] [--oaa-batch-size 16] [--out result.json]

Rows (the baselines are written here from our reading of the authors' code, not copied):

1. **OAA accumulation** (PengtaoJiang/OAA-PyTorch, ``scripts/train.py``): the authors keep
   one uint8 PNG per (image, class) at feature resolution; per accepted map they check that
   the file exists, read it, take the maximum with the new attention and write it back
   (:class:`PNGAccumulator`).
   Toolbox: :meth:`CumulativeMapStore.apply_batch`, one call per training batch (and, for
   reference, the per-image :meth:`CumulativeMapStore.apply` that the recorder used before).
   Same visits (VOC feature size 28x37, 1.5 classes per image on average, 80 % accepted;
   the first epoch, which creates the files and entries, untimed), maps per second;
   difference: stored maps vs the PNG files read back. A second OAA row times the
   recorder's whole update (attention of Eq. 2, score condition, store) image by image (as
   before the batched update) and batched.
2. **Map inference** (IRN-style ``make_cam``): one image at a time, one forward per scale
   and per flip with batch 1 (:func:`irn_style_infer_maps`); and IRN's own layout, the image
   and its flip stacked as a batch of 2 per scale. Toolbox: :func:`infer_maps` (views of one
   size batched across images). Same model (the tiny CAM classifier of
   ``configs/cam/cam_tiny_1xb16-8e_synthetic-128x128.py``, seeded random weights unless
   ``--checkpoint``), same views, same map files; images per second; difference: the
   largest difference of the written maps. A third variant runs :func:`infer_maps` with
   ``amp=True`` (bfloat16 autocast on the CPU) and ``channels_last=True`` (on a copy of the
   model): a different arithmetic, so its difference is the bfloat16 rounding (at most
   :data:`AMP_MAP_TOLERANCE`), not zero.
3. **Pseudo labels + DenseCRF** (IRN-style ``cam_to_ir_label``): a process pool of per-image
   jobs, each reading the map file, thresholding the background at 0.3, running DenseCRF on
   the argmax and writing the PNG (:func:`irn_style_pseudo_labels`). Toolbox:
   :func:`generate_pseudo_labels` with ``ThresholdLabelGenerator(bg_threshold=0.3)`` +
   ``DenseCRFRefiner()`` (the stage-2 recipe of the CAM configs), at every ``--nprocs``;
   difference: fraction of pixels whose labels differ.
4. **Stage 2 as a whole**: rows 2 + 3 run one after the other (maps then labels); with
   ``nproc`` processes the map inference runs in ``nproc`` forked processes of one thread,
   each on a share of the images (as ranks of ``torchrun``), for both; and the toolbox
   with ``amp=True, channels_last=True`` (difference: fraction of label pixels that the
   bfloat16 maps change).

Every measurement is repeated ``--repeats`` times, baseline and toolbox interleaved so that
drifts of a shared machine hit both; the table shows medians, the ratio is the median of the
per-repeat ratios. Without ``--data-root`` a synthetic benchmark of ``--num-images`` training
images is generated into the work dir.

(Over 400 lines: each baseline sits next to the toolbox call it is timed against and the
comparison of their outputs, so that a row reads in one place; ``benchmark_scale.py`` imports
its set-up.)
"""
import argparse
import copy
import json
import multiprocessing
import os
import os.path as osp
import platform
import shutil
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from mmengine.runner import load_checkpoint

from wsss_toolbox.datasets.synthetic_benchmark import generate_synthetic_benchmark
from wsss_toolbox.engine.config import load_config
from wsss_toolbox.maps import load_maps, map_path, save_maps
from wsss_toolbox.maps.inference import infer_maps
from wsss_toolbox.methods.oaa.hooks import CumulativeMapRecorderHook
from wsss_toolbox.methods.oaa.store import CumulativeMapStore, MapBatchUpdate
from wsss_toolbox.pseudo_labels import generate_pseudo_labels, load_label
from wsss_toolbox.registry import DATASETS, MODELS
from wsss_toolbox.structures import WSSSDataSample
from wsss_toolbox.utils import register_all_modules

VOC_FEATURE_SHAPE = (28, 37)  # VGG-16 OS8 features of a 224 x 298 input (short side 224)
CRF_PARAMS = dict(iterations=10, gaussian_sxy=1.0, gaussian_compat=3.0, bilateral_sxy=67.0,
                  bilateral_srgb=3.0, bilateral_compat=4.0, gt_prob=0.7)
BG_THRESHOLD = 0.3
#: largest map difference accepted between float32 maps and ``amp=True`` (bfloat16) maps:
#: bfloat16 keeps 8 significant bits (relative steps of 0.4 %), and the maps are fused and
#: normalised from many such values
AMP_MAP_TOLERANCE = 0.05
TOOLBOX_GENERATOR = dict(type='ThresholdLabelGenerator', bg_threshold=BG_THRESHOLD)
TOOLBOX_REFINERS = [dict(type='DenseCRFRefiner', **CRF_PARAMS)]


# ----------------------------------------------------------------------------- OAA
class PNGAccumulator:
    """The authors' cumulative maps: one uint8 PNG per (image, class) at feature resolution,
    ``M = max(M, A)`` by read-modify-write of the file (OAA Eq. 5)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        os.makedirs(folder, exist_ok=True)

    def path(self, img_id: str, cls: int) -> str:
        return osp.join(self.folder, f'{img_id}_{cls}.png')

    def update(self, img_id: str, cls: int, attention: np.ndarray) -> None:
        path = self.path(img_id, cls)
        if osp.exists(path):
            attention = np.maximum(cv2.imread(path, cv2.IMREAD_GRAYSCALE), attention)
        cv2.imwrite(path, attention)

    def apply(self, batch: MapBatchUpdate) -> None:
        """Every accepted map of a batch, one file at a time."""
        for index, img_id in enumerate(batch.img_ids):
            for row in range(int(batch.offsets[index]), int(batch.offsets[index + 1])):
                if batch.accepted[row]:
                    self.update(img_id, int(batch.classes[row]), batch.attention[row])

    def read(self, img_id: str, cls: int) -> Optional[np.ndarray]:
        path = self.path(img_id, cls)
        return cv2.imread(path, cv2.IMREAD_GRAYSCALE) if osp.exists(path) else None


def oaa_visits(num_images: int, epochs: int, batch_size: int,
               feature_shape: Tuple[int, int] = VOC_FEATURE_SHAPE, num_classes: int = 20,
               accept_rate: float = 0.8, seed: int = 0) -> List[MapBatchUpdate]:
    """Training-batch visits: every image once per epoch (shuffled), 1 or 2 classes per
    image (1.5 on average, VOC train_aug: 15,555 maps / 10,582 images = 1.47), uint8
    attention, ``accept_rate`` of the maps passing the score condition."""
    rng = np.random.default_rng(seed)
    ids = [f'{index:06d}' for index in range(num_images)]
    labels = {img_id: np.sort(rng.choice(num_classes, size=1 + int(rng.random() < 0.5),
                                         replace=False)) for img_id in ids}
    builder = CumulativeMapStore()
    meta = dict(img_shape=(8 * feature_shape[0], 8 * feature_shape[1]),
                ori_shape=(375, 500), feature_stride=(8.0, 8.0))
    batches = []
    for _ in range(epochs):
        order = rng.permutation(num_images)
        for start in range(0, num_images, batch_size):
            batch_ids = [ids[i] for i in order[start:start + batch_size]]
            classes = np.concatenate([labels[i] for i in batch_ids])
            offsets = np.concatenate([[0], np.cumsum([len(labels[i]) for i in batch_ids])])
            attention = rng.integers(0, 256, (len(classes), ) + tuple(feature_shape),
                                     dtype=np.uint8)
            accepted = rng.random(len(classes)) < accept_rate
            batches.append(builder.make_batch_update(batch_ids, offsets, classes, attention,
                                                     accepted, len(batches),
                                                     [meta] * len(batch_ids)))
    return batches


def recorder_batches(num_images: int, epochs: int, batch_size: int,
                     feature_shape: Tuple[int, int] = VOC_FEATURE_SHAPE, num_classes: int = 20,
                     seed: int = 0) -> List[dict]:
    """What the recorder hook reads after every training iteration (``train_outputs``):
    raw maps ``F`` (B, C, h, w), logits, data samples with 1 or 2 classes per image."""
    rng = np.random.default_rng(seed)
    img_shape = (8 * feature_shape[0], 8 * feature_shape[1])
    labels = []
    for _ in range(num_images):
        label = np.zeros(num_classes, np.float32)
        label[rng.choice(num_classes, size=1 + int(rng.random() < 0.5), replace=False)] = 1
        labels.append(torch.from_numpy(label))
    batches = []
    for _ in range(epochs):
        order = rng.permutation(num_images)
        for start in range(0, num_images, batch_size):
            chosen = order[start:start + batch_size]
            samples = []
            for index in chosen:
                sample = WSSSDataSample(metainfo=dict(img_id=f'{index:06d}', img_shape=img_shape,
                                                      ori_shape=(375, 500)))
                sample.gt_label = labels[index]
                samples.append(sample)
            batches.append(dict(
                cams=torch.from_numpy(rng.normal(size=(len(chosen), num_classes) + tuple(
                    feature_shape)).astype(np.float32)),
                logits=torch.from_numpy(rng.normal(size=(len(chosen), num_classes)).astype(
                    np.float32)),
                data_samples=samples, batch_input_shape=img_shape))
    return batches


def run_recorder(batches: Sequence[dict], epochs: int) -> dict:
    """Seconds of the recorder's update (attention, score condition, store) per image (the
    path before batching) and batched, on the same training outputs."""
    per_epoch = len(batches) // epochs
    seconds = {}
    stores = {}
    for batched in (False, True):
        hook = CumulativeMapRecorderHook(store=dict(batched=batched), export=dict(dir=None),
                                         score_rule='topk_sigmoid', skip_first_epoch=False)
        start = time.perf_counter()
        for stamp, recorded in enumerate(batches):
            hook.record(recorded, stamp=stamp, epoch=stamp // per_epoch, max_epochs=epochs)
        seconds[batched] = time.perf_counter() - start
        stores[batched] = hook.store
    maps = sum(int(sum(float(s.gt_label.sum()) for s in b['data_samples'])) for b in batches)
    return dict(maps=maps, per_image=seconds[False], batched=seconds[True],
                difference=0 if stores[True].equals(stores[False]) else 255)


def store_png_difference(store: CumulativeMapStore, png: PNGAccumulator) -> int:
    """Largest |store - PNG| over every (image, class) with an accepted map (uint8 steps);
    a map on one side only counts as 255."""
    worst = 0
    for img_id in store.img_ids():
        stored = store.stored_uint8(img_id)
        for row, (cls, count) in enumerate(zip(store.classes(img_id), store.counts(img_id))):
            written = png.read(img_id, int(cls))
            if (written is None) != (count == 0):
                return 255
            if written is not None:
                worst = max(worst, int(np.abs(written.astype(np.int16)
                                              - stored[row].astype(np.int16)).max()))
    return worst


def run_oaa(batches: Sequence[MapBatchUpdate], folder: str, warmup: int = 0) -> dict:
    """Seconds of the PNG mechanism, the batched store and the per-image store update over
    ``batches[warmup:]`` (the first ``warmup`` batches run untimed: the first epoch creates
    the files and the store's entries; OAA trains 15 epochs)."""
    num_maps = sum(int(batch.accepted.sum()) for batch in batches[warmup:])
    shutil.rmtree(folder, ignore_errors=True)

    def seconds_of(apply: Callable) -> float:
        for batch in batches[:warmup]:
            apply(batch)
        start = time.perf_counter()
        for batch in batches[warmup:]:
            apply(batch)
        return time.perf_counter() - start

    png = PNGAccumulator(folder)
    png_seconds = seconds_of(png.apply)
    store = CumulativeMapStore(fusion='max', bits=8)
    batched_seconds = seconds_of(store.apply_batch)
    per_image = CumulativeMapStore(fusion='max', bits=8)
    updates = {id(batch): batch.image_updates() for batch in batches}  # built untimed
    per_image_seconds = seconds_of(lambda batch: [per_image.apply(update)
                                                  for update in updates[id(batch)]])
    difference = store_png_difference(store, png)
    assert store.equals(per_image), 'the batched store differs from the per-image store'
    return dict(maps=num_maps, png=png_seconds, batched=batched_seconds,
                per_image=per_image_seconds, difference=difference)


# ----------------------------------------------------------------------------- maps
@torch.no_grad()
def irn_style_infer_maps(model: torch.nn.Module, samples: Sequence[dict], out_dir: str,
                         scales: Sequence[float], flip: bool = True,
                         flip_in_batch: bool = False) -> int:
    """IRN-style map inference: one image at a time; per scale, the rescaled image (and its
    mirror) go through the network one forward each with batch 1 (``flip_in_batch``: the
    image and its mirror as one batch of 2, IRN's ``make_cam``); every view's maps are
    mirrored back, resized to the image and summed; the image's classes are kept and each
    divided by its maximum (floor 1e-5). Writes the same map files as :func:`infer_maps`."""
    model.eval()
    for sample in samples:
        image = mmcv.imread(sample['img_path'], channel_order='bgr')
        height, width = image.shape[:2]
        label = torch.as_tensor(np.asarray(sample['gt_label']), dtype=torch.float32)
        total = None
        for scale in scales:
            scaled = image if scale == 1 else mmcv.imrescale(image, float(scale),
                                                             interpolation='bilinear')
            views = [(scaled, False)] + ([(scaled[:, ::-1], True)] if flip else [])
            inputs, data_samples = [], []
            for view, flipped in views:
                inputs.append(torch.from_numpy(np.ascontiguousarray(view.transpose(2, 0, 1))))
                data_sample = WSSSDataSample(metainfo=dict(
                    img_shape=view.shape[:2], ori_shape=(height, width), flip=flipped))
                data_sample.gt_label = label
                data_samples.append(data_sample)
            groups = [list(range(len(views)))] if flip_in_batch else [[i] for i in
                                                                       range(len(views))]
            for group in groups:
                results = model.test_step(dict(inputs=[inputs[i] for i in group],
                                               data_samples=[data_samples[i] for i in group]))
                for result in results:
                    maps = result.pred_maps.float()
                    if result.metainfo['flip']:
                        maps = maps.flip(-1)
                    maps = F.interpolate(maps[None], size=(height, width), mode='bilinear',
                                         align_corners=False)[0]
                    total = maps if total is None else total + maps
        total = total.clamp(min=0)
        classes = np.flatnonzero(np.asarray(sample['gt_label']) > 0)
        selected = total[torch.from_numpy(classes)]
        selected = selected / selected.amax(dim=(-2, -1), keepdim=True).clamp(min=1e-5)
        save_maps(map_path(out_dir, sample['img_id']), sample['img_id'], classes,
                  selected.cpu().numpy())
    return len(samples)


def map_difference(samples: Sequence[dict], dir_a: str, dir_b: str) -> float:
    """Largest |a - b| over the map files of both folders."""
    worst = 0.0
    for sample in samples:
        a = load_maps(map_path(dir_a, sample['img_id']))
        b = load_maps(map_path(dir_b, sample['img_id']))
        if not np.array_equal(a['classes'], b['classes']):
            return float('inf')
        worst = max(worst, float(np.abs(a['maps'].astype(np.float32)
                                        - b['maps'].astype(np.float32)).max(initial=0)))
    return worst


# ----------------------------------------------------------------------------- labels
def irn_style_label_job(job: Tuple[dict, str, str]) -> int:
    """One image: read its map file, background at :data:`BG_THRESHOLD`, argmax, DenseCRF on
    the argmax labels (unary from labels with ``gt_prob``, Gaussian + bilateral kernels,
    mean field), PNG. The CRF's labels are the ones present in the argmax (as the toolbox's
    refiner; IRN passes every label of the image, the same where each wins a pixel)."""
    # lazy: pydensecrf is an optional compiled dependency that the toolbox, too, imports only
    # when a CRF runs (wsss_toolbox/pseudo_labels/crf.py); the OAA and map rows run without it
    import pydensecrf.densecrf as dcrf
    from pydensecrf.utils import unary_from_labels
    sample, map_dir, out_dir = job
    with np.load(map_path(map_dir, sample['img_id'])) as data:
        maps = data['maps'].astype(np.float32)
        classes = data['classes'].astype(np.int64)
    peaks = maps.reshape(len(maps), -1).max(axis=1) if len(maps) else np.zeros(0)
    maps = maps / np.where(peaks > 0, peaks, 1)[:, None, None]
    scores = np.concatenate([np.full((1, ) + maps.shape[1:], BG_THRESHOLD, np.float32), maps])
    keys = np.concatenate([[0], classes + 1]).astype(np.uint8)
    label = keys[scores.argmax(axis=0)]
    present = np.unique(label)
    if len(present) > 1:
        image = np.ascontiguousarray(cv2.imread(sample['img_path'], cv2.IMREAD_COLOR)[..., ::-1])
        height, width = label.shape
        crf = dcrf.DenseCRF2D(width, height, len(present))
        crf.setUnaryEnergy(unary_from_labels(np.searchsorted(present, label), len(present),
                                             gt_prob=CRF_PARAMS['gt_prob'],
                                             zero_unsure=False))
        crf.addPairwiseGaussian(sxy=CRF_PARAMS['gaussian_sxy'],
                                compat=CRF_PARAMS['gaussian_compat'])
        crf.addPairwiseBilateral(sxy=CRF_PARAMS['bilateral_sxy'],
                                 srgb=CRF_PARAMS['bilateral_srgb'], rgbim=image,
                                 compat=CRF_PARAMS['bilateral_compat'])
        marginals = np.array(crf.inference(CRF_PARAMS['iterations'])).reshape(
            len(present), height, width)
        label = present[marginals.argmax(axis=0)].astype(np.uint8)
    cv2.imwrite(osp.join(out_dir, f'{sample["img_id"]}.png'), label)
    return 1


def irn_style_pseudo_labels(samples: Sequence[dict], map_dir: str, out_dir: str,
                            nproc: int) -> int:
    """IRN-style stage 2b: a pool of ``nproc`` processes, one job per image."""
    os.makedirs(out_dir, exist_ok=True)
    jobs = [(dict(img_id=s['img_id'], img_path=s['img_path']), map_dir, out_dir)
            for s in samples]
    with multiprocessing.Pool(nproc) as pool:
        return sum(pool.imap_unordered(irn_style_label_job, jobs))


def toolbox_pseudo_labels(samples: Sequence[dict], map_dir: str, out_dir: str,
                          nproc: int) -> int:
    summary = generate_pseudo_labels(samples, map_dir, out_dir, TOOLBOX_GENERATOR,
                                     TOOLBOX_REFINERS, nproc=nproc, overwrite=True,
                                     progress=False)
    return summary['num_written']


def label_difference(samples: Sequence[dict], dir_a: str, dir_b: str) -> float:
    """Fraction of pixels whose labels differ between the two folders."""
    differ = total = 0
    for sample in samples:
        a = load_label(osp.join(dir_a, f'{sample["img_id"]}.png'))
        b = load_label(osp.join(dir_b, f'{sample["img_id"]}.png'))
        differ += int(np.count_nonzero(a != b))
        total += a.size
    return differ / max(total, 1)


# ----------------------------------------------------------------------------- set-up
def build_model(config: str, checkpoint: Optional[str], seed: int,
                num_classes: Optional[int] = None) -> torch.nn.Module:
    """The config's model with seeded random weights, or the checkpoint's."""
    cfg = load_config(config)
    if num_classes is not None:
        cfg.model.head.num_classes = num_classes
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    if hasattr(model, 'init_weights'):
        level = MMLogger.get_current_instance().level
        MMLogger.get_current_instance().setLevel('WARNING')  # one line per parameter
        model.init_weights()
        MMLogger.get_current_instance().setLevel(level)
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu')
    return model.eval()


def benchmark_samples(data_root: str, num_images: int) -> List[dict]:
    dataset = DATASETS.build(dict(type='SyntheticWSSSDataset', data_root=data_root,
                                  split='train', pipeline=[]))
    samples = [dataset.get_data_info(i) for i in range(len(dataset))]
    return samples[:num_images] if num_images else samples


def in_processes(function: Callable, samples: Sequence[dict], nproc: int) -> None:
    """``function(samples[r::nproc])`` in ``nproc`` forked processes of one torch thread
    each (as ranks of ``torchrun`` share the images); ``nproc`` 1: in this process."""
    if nproc == 1:
        function(list(samples))
        return

    def work(part):
        torch.set_num_threads(1)
        function(part)

    context = multiprocessing.get_context('fork')
    processes = [context.Process(target=work, args=(list(samples[rank::nproc]), ))
                 for rank in range(nproc)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    failed = [p.exitcode for p in processes if p.exitcode != 0]
    if failed:
        raise RuntimeError(f'a map-inference process failed (exit codes {failed})')


def timed(function: Callable, *args) -> float:
    """Wall seconds of ``function(*args)``, waiting for the GPU's queued work if there is
    one."""
    start = time.perf_counter()
    function(*args)
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def interleaved(functions: Dict[str, Callable], repeats: int) -> Dict[str, List[float]]:
    """Seconds of every function, all of them one after the other in each repeat (so that a
    drift of the machine's speed hits every variant alike)."""
    seconds = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            seconds[name].append(timed(function))
    return seconds


def summarise(seconds: dict, count: int) -> dict:
    base, ours = seconds['baseline'], seconds['toolbox']
    return dict(count=count, baseline_per_second=count / statistics.median(base),
                toolbox_per_second=count / statistics.median(ours),
                ratio=statistics.median(b / o for b, o in zip(base, ours)),
                baseline_seconds=base, toolbox_seconds=ours)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--config', default='configs/cam/cam_tiny_1xb16-8e_synthetic-128x128.py',
                        help='stage-1 config whose model makes the maps')
    parser.add_argument('--checkpoint', help='weights of that model (default: seeded random)')
    parser.add_argument('--data-root', help='a synthetic benchmark (default: generate one)')
    parser.add_argument('--work-dir', default='work_dirs/bench/vs_authors')
    parser.add_argument('--num-images', type=int, default=48)
    parser.add_argument('--image-size', type=int, default=128)
    parser.add_argument('--scales', type=float, nargs='+', default=[1.0, 0.5, 1.5, 2.0],
                        help="map-inference scales (IRN's)")
    parser.add_argument('--no-flip', action='store_true')
    parser.add_argument('--nprocs', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--device', default='cpu',
                        help="where the model runs, e.g. 'cuda' (then --nprocs 1: the "
                        'processes of the 2-process rows are forked, and CUDA does not fork)')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--oaa-images', type=int, default=1000)
    parser.add_argument('--oaa-epochs', type=int, default=3,
                        help='epochs of OAA visits; the first one runs untimed')
    parser.add_argument('--oaa-batch-size', type=int, default=16)
    parser.add_argument('--png-dir', help="folder of the authors' PNG files (default: the "
                        'work dir; e.g. /dev/shm to time PNG coding without the disk)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='also write the results as JSON to this file')
    return parser.parse_args(argv)


def check_device(device: str, nprocs: Sequence[int]) -> None:
    """Raise a clear error for a device this machine lacks, or forked processes on a GPU."""
    if device.startswith('cuda'):
        if not torch.cuda.is_available():
            raise SystemExit(f'--device {device}: torch sees no CUDA device on this machine '
                             f'(torch {torch.__version__}); use --device cpu')
        if any(nproc > 1 for nproc in nprocs):
            raise SystemExit(f'--device {device} needs --nprocs 1: the multi-process rows fork '
                             'the benchmark, and a forked process cannot use CUDA')
    elif device != 'cpu':
        raise SystemExit(f"--device must be 'cpu' or 'cuda[:N]', got {device!r}")


def run(args: argparse.Namespace) -> dict:
    check_device(args.device, args.nprocs)
    register_all_modules(init_default_scope=False)
    torch.set_num_threads(1)
    os.makedirs(args.work_dir, exist_ok=True)
    data_root = args.data_root
    if data_root is None:
        data_root = osp.join(args.work_dir, f'benchmark_{args.num_images}_{args.image_size}')
        if not osp.isdir(osp.join(data_root, 'JPEGImages')):
            generate_synthetic_benchmark(data_root, num_train=args.num_images, num_val=0,
                                         image_size=args.image_size, seed=args.seed)
    samples = benchmark_samples(data_root, args.num_images)
    model = build_model(args.config, args.checkpoint, args.seed,
                         num_classes=len(samples[0]['gt_label']))
    model = model.to(args.device)
    # amp rows: channels_last converts the model in place, so they use a copy
    fast_model = copy.deepcopy(model)
    fast = dict(amp=True, channels_last=True)
    flip = not args.no_flip
    folder = lambda name: osp.join(args.work_dir, name)  # noqa: E731
    rows = {}

    # 1. OAA accumulation
    batches = oaa_visits(args.oaa_images, args.oaa_epochs, args.oaa_batch_size,
                         seed=args.seed)
    png_folder = osp.join(args.png_dir, 'oaa_png') if args.png_dir else folder('oaa_png')
    warmup = len(batches) // args.oaa_epochs  # the first epoch
    runs = [run_oaa(batches, png_folder, warmup) for _ in range(args.repeats)]
    num_maps = runs[0]['maps']
    for name, ours in (('OAA accumulation: PNG per (image, class) vs store, batched',
                        'batched'),
                       ('OAA accumulation: PNG per (image, class) vs store, per image (before)',
                        'per_image')):
        rows[name] = dict(summarise(dict(baseline=[r['png'] for r in runs],
                                         toolbox=[r[ours] for r in runs]), num_maps),
                          unit='maps/s', difference=max(r['difference'] for r in runs),
                          difference_unit='uint8 steps')

    recorded = recorder_batches(args.oaa_images, args.oaa_epochs, args.oaa_batch_size,
                                seed=args.seed)
    runs = [run_recorder(recorded, args.oaa_epochs) for _ in range(args.repeats)]
    rows['OAA recorder update (attention + score + store): per image vs batched'] = dict(
        summarise(dict(baseline=[r['per_image'] for r in runs],
                       toolbox=[r['batched'] for r in runs]), runs[0]['maps']),
        unit='maps/s', difference=max(r['difference'] for r in runs),
        difference_unit='uint8 steps')
    del recorded

    # 2. map inference (one thread): both IRN layouts and the toolbox, interleaved
    variants = dict(
        irn=lambda: irn_style_infer_maps(model, samples, folder('maps_irn'), args.scales,
                                         flip),
        irn_pairs=lambda: irn_style_infer_maps(model, samples, folder('maps_irn_pairs'),
                                               args.scales, flip, True),
        toolbox=lambda: infer_maps(model, samples, folder('maps_toolbox'), args.scales, flip,
                                   'mean', overwrite=True, progress=False),
        toolbox_amp=lambda: infer_maps(fast_model, samples, folder('maps_toolbox_amp'),
                                       args.scales, flip, 'mean', overwrite=True,
                                       progress=False, **fast))
    seconds = interleaved(variants, args.repeats)
    for name, baseline, ours in (
            ('map inference: IRN-style (batch 1 per view) vs infer_maps', 'irn', 'toolbox'),
            ('map inference: IRN make_cam (image + flip per forward) vs infer_maps',
             'irn_pairs', 'toolbox'),
            ('map inference: IRN-style (batch 1 per view) vs infer_maps, amp + channels_last',
             'irn', 'toolbox_amp')):
        rows[name] = dict(summarise(dict(baseline=seconds[baseline],
                                         toolbox=seconds[ours]), len(samples)),
                          unit='images/s',
                          difference=map_difference(samples, folder(f'maps_{baseline}'),
                                                    folder(f'maps_{ours}')),
                          difference_unit='max |map difference|')

    # 3. pseudo labels + CRF, from the same (toolbox) maps
    for nproc in args.nprocs:
        name = f'pseudo labels + CRF: IRN-style pool vs runner, {nproc} process(es)'
        seconds = interleaved(dict(
            baseline=lambda: irn_style_pseudo_labels(samples, folder('maps_toolbox'),
                                                     folder('labels_irn'), nproc),
            toolbox=lambda: toolbox_pseudo_labels(samples, folder('maps_toolbox'),
                                                  folder('labels_toolbox'), nproc)),
            args.repeats)
        rows[name] = dict(summarise(seconds, len(samples)), unit='images/s',
                          difference=label_difference(samples, folder('labels_irn'),
                                                      folder('labels_toolbox')),
                          difference_unit='fraction of pixels')

    # 4. stage 2 as a whole: maps (nproc processes, one thread each, each a share of the
    # images) then labels (nproc processes)
    for nproc in args.nprocs:
        name = f'stage 2 (maps + labels + CRF): IRN-style vs toolbox, {nproc} process(es)'

        def baseline(nproc=nproc):
            in_processes(lambda part: irn_style_infer_maps(
                model, part, folder('s2_maps_irn'), args.scales, flip), samples, nproc)
            irn_style_pseudo_labels(samples, folder('s2_maps_irn'), folder('s2_labels_irn'),
                                    nproc)

        def toolbox(nproc=nproc, amp=False):
            suffix = '_amp' if amp else ''
            in_processes(lambda part: infer_maps(
                fast_model if amp else model, part, folder(f's2_maps_toolbox{suffix}'),
                args.scales, flip, 'mean', overwrite=True, progress=False,
                **(fast if amp else {})),
                samples, nproc)
            toolbox_pseudo_labels(samples, folder(f's2_maps_toolbox{suffix}'),
                                  folder(f's2_labels_toolbox{suffix}'), nproc)
        # one baseline run per repeat serves both toolbox variants
        seconds = interleaved(dict(baseline=baseline, toolbox=toolbox,
                                   toolbox_amp=lambda nproc=nproc: toolbox(nproc, True)),
                              args.repeats)
        for row_name, ours, suffix in ((name, 'toolbox', ''),
                                       (f'{name}, amp + channels_last', 'toolbox_amp', '_amp')):
            rows[row_name] = dict(
                summarise(dict(baseline=seconds['baseline'], toolbox=seconds[ours]),
                          len(samples)), unit='images/s',
                difference=label_difference(samples, folder('s2_labels_irn'),
                                            folder(f's2_labels_toolbox{suffix}')),
                difference_unit='fraction of pixels')

    height, width = mmcv.imread(samples[0]['img_path']).shape[:2]
    settings = dict(images=len(samples), image_size=[height, width], scales=args.scales,
                    flip=flip, config=args.config, checkpoint=args.checkpoint,
                    repeats=args.repeats, oaa_images=args.oaa_images,
                    oaa_epochs=args.oaa_epochs, oaa_batch_size=args.oaa_batch_size,
                    oaa_feature_shape=list(VOC_FEATURE_SHAPE), oaa_maps=num_maps,
                    png_dir=png_folder, device=args.device,
                    device_name=(torch.cuda.get_device_name(torch.device(args.device))
                                 if args.device.startswith('cuda') else None),
                    machine=dict(cpus=os.cpu_count(), processor=platform.processor() or
                                 platform.machine(), python=platform.python_version(),
                                 torch=torch.__version__))
    return dict(settings=settings, rows=rows)


def format_table(result: dict) -> str:
    lines = [f'{"mechanism (authors-style baseline vs toolbox)":<84}{"unit":>9}'
             f'{"baseline":>10}{"toolbox":>10}{"ratio":>8}  max difference']
    for name, row in result['rows'].items():
        lines.append(f'{name:<84}{row["unit"]:>9}{row["baseline_per_second"]:>10.1f}'
                     f'{row["toolbox_per_second"]:>10.1f}{row["ratio"]:>7.1f}x  '
                     f'{row["difference"]:.3g} ({row["difference_unit"]})')
    settings = result['settings']
    lines.append(f'{settings["images"]} images of {settings["image_size"][0]}x'
                 f'{settings["image_size"][1]}, scales {settings["scales"]} x flip '
                 f'{settings["flip"]}; OAA: {settings["oaa_maps"]} accepted maps of '
                 f'{settings["oaa_feature_shape"][0]}x{settings["oaa_feature_shape"][1]} '
                 f'in batches of {settings["oaa_batch_size"]} images; medians of '
                 f'{settings["repeats"]} interleaved repeats; {settings["machine"]["cpus"]} '
                 'CPUs' + (f'; model on {settings["device_name"]}'
                           if settings.get('device_name') else ''))
    return '\n'.join(lines)


def main(argv=None) -> None:
    args = parse_args(argv)
    start = time.perf_counter()
    result = run(args)
    result['settings']['wall_seconds'] = time.perf_counter() - start
    print(format_table(result))
    print(f'wall time {result["settings"]["wall_seconds"]:.0f} s')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)


if __name__ == '__main__':
    main()
