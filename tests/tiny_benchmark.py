"""A tiny synthetic benchmark (VOC layout, 3 classes, 32x32 images) and map files made from its
masks: real inputs for the tests that give the tools and datasets bad files."""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import mmcv
import numpy as np
from mmengine.config import Config
from mmengine.runner import runner as runner_module

from wsss_toolbox.datasets.synthetic_benchmark import generate_synthetic_benchmark
from wsss_toolbox.maps import map_path, save_maps


def write_tiny_benchmark(root: str, num_train: int = 6, num_val: int = 2) -> str:
    """``root`` with JPEGImages, SegmentationClass, Saliency, ImageSets/Segmentation,
    classes.txt and cls_labels.txt (train_00000: classes 0 and 1; train_00001: class 0)."""
    generate_synthetic_benchmark(root, num_train=num_train, num_val=num_val, image_size=32,
                                 num_classes=3, num_workers=1)
    return root


def image_tags(root: str) -> Dict[str, List[int]]:
    """``{img_id: foreground class indices}`` from the benchmark's cls_labels.txt."""
    with open(osp.join(root, 'classes.txt')) as f:
        classes = [line.split()[0] for line in f if line.strip()]
    tags = {}
    with open(osp.join(root, 'cls_labels.txt')) as f:
        for line in f:
            img_id, *names = line.split()
            tags[img_id] = sorted(classes.index(name) for name in names)
    return tags


def write_gt_maps(root: str, map_dir: str, split: str = 'train') -> List[str]:
    """Good map files (0.95 on the object, 0.05 elsewhere) of every tagged image of ``split``,
    made from the ground-truth masks; returns the image ids."""
    written = []
    for img_id, classes in image_tags(root).items():
        if not img_id.startswith(split) or not classes:
            continue
        gt = mmcv.imread(osp.join(root, 'SegmentationClass', f'{img_id}.png'),
                         flag='unchanged', backend='pillow')
        maps = np.stack([(gt == cls + 1) * 0.9 + 0.05 for cls in classes]).astype(np.float32)
        save_maps(map_path(map_dir, img_id), img_id, np.array(classes, np.int64), maps)
        written.append(img_id)
    return written


def dataset_cfg(root: str, split: str = 'train') -> dict:
    return dict(type='SyntheticWSSSDataset', data_root=root, split=split)


def write_stage2_config(path: str, root: str, map_dir: str, label_dir: str,
                        generator: str = "dict(type='ThresholdLabelGenerator', bg_threshold=0.3)",
                        refiners: str = '[]') -> str:
    """A tools/make_pseudo_labels.py config for the benchmark's training images."""
    with open(path, 'w') as f:
        f.write(f'dataset = {dataset_cfg(root)!r}\n'
                f'map_dir = {map_dir!r}\n'
                f'label_dir = {label_dir!r}\n'
                f'generator = {generator}\n'
                f'refiners = {refiners}\n')
    return path


def rewrite_map_file(path: str, **changes) -> None:
    """Rewrite a map file with some arrays replaced, bypassing ``save_maps``' checks (the way
    a foreign tool or a hand edit would write it)."""
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    arrays.update(changes)
    np.savez_compressed(path, **arrays)


# ------------------------------------------------------------------ tiny pipeline options
LOADER_OPTIONS = ('num_workers=0', 'persistent_workers=False')


def tiny_pipeline_options(data_root: Optional[str] = None, num_train: int = 12,
                          epoch_stages: Sequence[str] = ('stage1', ),
                          iter_stages: Sequence[str] = ('stage3', ), max_iters: int = 2,
                          nproc_steps: Sequence[str] = (),
                          extra: Sequence[str] = ()) -> List[str]:
    """``--cfg-options`` that shrink a synthetic pipeline to seconds: a ``num_train`` + 4
    image benchmark of 48x48 px, one epoch per epoch-based stage (``stage1``-like: train and
    val loaders in this process), ``max_iters`` iterations per iteration-based stage
    (``stage3``-like, validated at its end: train, val and test loaders), one process per
    stage-2 step of ``nproc_steps``. ``extra`` follows (e.g. a method's own sizes)."""
    options = [f'data_root={data_root}'] if data_root is not None else []
    options += [f'synthetic_benchmark.num_train={num_train}', 'synthetic_benchmark.num_val=4',
                'synthetic_benchmark.image_size=48', 'synthetic_benchmark.num_workers=1']
    options += [f'{step}.nproc=1' for step in nproc_steps]
    for stage in epoch_stages:
        options += [f'{stage}.cfg_options.train_cfg.max_epochs=1',
                    f'{stage}.cfg_options.train_cfg.val_interval=1']
        options += [f'{stage}.cfg_options.{loader}_dataloader.{option}'
                    for loader in ('train', 'val') for option in LOADER_OPTIONS]
    for stage in iter_stages:
        options += [f'{stage}.cfg_options.train_cfg.max_iters={max_iters}',
                    f'{stage}.cfg_options.train_cfg.val_interval={max_iters}']
        options += [f'{stage}.cfg_options.{loader}_dataloader.{option}'
                    for loader in ('train', 'val', 'test') for option in LOADER_OPTIONS]
    return options + list(extra)


# Summary step of the method pipeline tests: tests/visualization checks the report; one image
# shows the figure is drawn.
QUICK_SUMMARY = ['summary.report=False', 'summary.figure.num_images=1']
# IRN's boundary network in the CAM + IRN and RPNet + IRN pipeline tests: one epoch, in process.
IRN_TRAIN_TINY = ['irn_train.cfg_options.train_cfg.max_epochs=1',
                  'irn_train.cfg_options.train_dataloader.batch_size=4',
                  'irn_train.cfg_options.train_dataloader.num_workers=0',
                  'irn_train.cfg_options.train_dataloader.persistent_workers=False']


# The CAM pipeline (configs/pipelines/cam_synthetic.py) as tests/pipeline/test_pipeline.py and
# the README's commands (tests/test_readme.py) run it: stage 3 keeps checkpoints of iterations
# 2 and 4, so a resume from the middle can be tested.
CAM_PIPELINE_TINY = tiny_pipeline_options(
    num_train=16, max_iters=4, nproc_steps=('eval_maps', 'pseudo_labels', 'pseudo_labels_crf'),
    extra=['maps.scales=[1.0,0.5]', 'stage3.cfg_options.default_hooks.checkpoint.interval=2',
           'stage3.cfg_options.default_hooks.checkpoint.max_keep_ckpts=3'])


def skip_runner_env_and_config_text(monkeypatch) -> None:
    """For a test that reads neither: mmengine's Runner logs the environment (importing
    torchvision, ~2-3 s the first time) and the config text formatted by yapf (logged, dumped
    and put in checkpoints: ~1 s a runner). A plain repr of the config stands in for it."""
    monkeypatch.setattr(runner_module, 'collect_env', dict)
    monkeypatch.setattr(Config, 'pretty_text', property(lambda cfg: repr(cfg.to_dict())))
