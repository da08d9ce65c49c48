"""Python API for one image, as mmseg's ``init_model`` / ``inference_model``.

The ten-line example is in README.md ("Python API"); ``tests/apis/test_inference_api.py``
runs it as written there, with its two file paths replaced.

The maps are those the stage-2 map inference writes (:mod:`wsss_toolbox.maps.inference`, the
same code): the views are fused, and each class map is divided by its maximum.
"""
import copy
import os
from typing import Dict, Optional, Sequence, Union

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings

from wsss_toolbox.engine.checkpoint import load_model_checkpoint
from wsss_toolbox.engine.config import load_config
from wsss_toolbox.evaluation.degenerate import log_warning, maps_are_empty
from wsss_toolbox.maps.inference import check_fusion, class_maps, fused_maps_and_scores

# one meaning of make_pseudo_label: maps + classes + image -> label (the stage-2 runner's)
from wsss_toolbox.pseudo_labels.runner import make_pseudo_label
from wsss_toolbox.registry import MODELS, SCOPE
from wsss_toolbox.utils import register_all_modules

__all__ = ['init_classifier', 'inference_maps', 'make_pseudo_label']

ImageInput = Union[str, os.PathLike, np.ndarray]
#: without given classes, :func:`inference_maps` keeps the classes scored above this
SCORE_THRESHOLD = 0.5
#: what to check when a model predicts nothing (a warning says it)
_CHECK_MODEL = ('check the checkpoint given to init_classifier (None keeps the initial, '
                'untrained weights; too short a training scores every class about 0.5 or '
                'less) and that the image is like the training images')


def init_classifier(config: Union[str, os.PathLike, Config],
                    checkpoint: Optional[str] = None,
                    device: str = 'cpu',
                    cfg_options: Optional[dict] = None,
                    strict: bool = True) -> torch.nn.Module:
    """Build a stage-1 classifier from a config and load its checkpoint.

    Args:
        config: a config file or a :class:`~mmengine.config.Config` (not modified). Its
            ``custom_imports`` are imported, so plugin components can be named.
        checkpoint: a checkpoint of this model; None keeps the initial weights.
        device: where the model goes (``'cpu'``, ``'cuda:0'`` ...).
        cfg_options: overrides merged into the config (as ``--cfg-options``).
        strict: a checkpoint whose weights are missing, extra or of another shape (another
            model's) is a :class:`~wsss_toolbox.engine.checkpoint.CheckpointError` naming the
            file; ``False`` loads the weights that fit and warns about the others.

    Returns:
        The model in eval mode, with ``model.cfg`` (the config) and ``model.dataset_meta``
        (the checkpoint's ``meta['dataset_meta']``, e.g. ``classes``, else the config's
        training dataset ``metainfo``, else None).
    """
    if isinstance(config, (str, os.PathLike)):
        config = load_config(config)  # imports custom_imports; errors name the file
    elif isinstance(config, Config):
        config = copy.deepcopy(config)
        if config.get('custom_imports'):
            import_modules_from_strings(**config['custom_imports'])
    else:
        raise TypeError(f'config must be a file path or a Config, got {type(config).__name__}')
    if cfg_options:
        config.merge_from_dict(cfg_options)
    if 'model' not in config:
        raise KeyError(f'config {config.filename or ""} has no `model`')
    register_all_modules(init_default_scope=False)
    init_default_scope(config.get('default_scope', SCOPE))
    model = MODELS.build(config.model)
    dataset_meta = None
    if checkpoint is not None:
        loaded = load_model_checkpoint(
            model, os.fspath(checkpoint), strict=strict,
            what=f'the model of {config.filename or "the config"}')
        meta = loaded.get('meta') or {}
        dataset_meta = meta.get('dataset_meta')
    if dataset_meta is None:
        metainfo = config.get('train_dataloader', {}).get('dataset', {}).get('metainfo')
        dataset_meta = dict(metainfo) if metainfo else None
    model.dataset_meta = dataset_meta
    model.cfg = config
    model.to(device)
    model.eval()
    return model


def _class_indices(model: torch.nn.Module, classes: Sequence[Union[int, str]],
                   num_classes: int) -> np.ndarray:
    names = list((getattr(model, 'dataset_meta', None) or {}).get('classes') or [])
    indices = []
    for item in classes:
        if isinstance(item, str):
            if not names:
                raise ValueError(f'class {item!r} given by name, but the model has no class '
                                 'names (no dataset_meta in its checkpoint or config); give '
                                 'class indices')
            if item not in names:
                raise ValueError(f'unknown class {item!r}; the model knows {names}')
            indices.append(names.index(item))
        else:
            index = int(item)
            if not 0 <= index < num_classes:
                raise ValueError(f'class index {index} outside [0, {num_classes - 1}]')
            indices.append(index)
    return np.unique(np.asarray(indices, dtype=np.int64))


def _bgr_image(image: ImageInput) -> np.ndarray:
    if isinstance(image, (str, os.PathLike)):
        path = os.fspath(image)
        loaded = mmcv.imread(path, channel_order='bgr')  # as the pipelines read images
        if loaded is None:
            raise FileNotFoundError(f'image "{path}" is missing or unreadable')
        return loaded
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'image must be an RGB uint8 HxWx3 array (or a path), got '
                         f'{image.dtype} {image.shape}')
    return np.ascontiguousarray(image[..., ::-1])  # RGB -> BGR, what the model expects


@torch.no_grad()
def inference_maps(model: torch.nn.Module,
                   image: ImageInput,
                   scales: Sequence[float] = (1.0, ),
                   flip: bool = True,
                   fusion: str = 'mean',
                   classes: Optional[Sequence[Union[int, str]]] = None) -> Dict[str, np.ndarray]:
    """Localization maps of one image, as stage-2 map inference writes them.

    Args:
        model: a classifier from :func:`init_classifier`.
        image: a file path (read BGR, as the pipelines do) or an **RGB** uint8 HxWx3 array
            (the toolbox's convention for images outside pipelines).
        scales, flip: test-time augmentation views; ``fusion``: ``'mean'`` or ``'max'``.
        classes: the image's tags, as foreground class indices or names (names need
            ``model.dataset_meta['classes']``); None: the classes whose predicted score (the
            mean sigmoid over the views) is > :data:`SCORE_THRESHOLD`. A model that predicts
            no class, or gives all-zero maps, logs a warning saying what to check.

    Returns:
        ``dict(classes=int64 (K,) sorted, maps=float32 (K, H, W) at the image size in
        [0, 1], scores=float32 (C,) predicted scores of all classes)``.
    """
    check_fusion(fusion)
    model.eval()
    gt_labels = indices = None
    num_classes = getattr(getattr(model, 'head', None), 'num_classes', None)
    if classes is not None and num_classes is not None:
        # the tags reach the views as gt_label, as in map inference (heads that erase with
        # the labels, e.g. SeeNet's, need them)
        indices = _class_indices(model, classes, num_classes)
        label = torch.zeros(num_classes)
        label[torch.from_numpy(indices)] = 1
        gt_labels = [label]
    fused, scores = fused_maps_and_scores(model, _bgr_image(image), scales, flip, fusion,
                                          gt_labels=gt_labels)
    num_classes = fused.shape[0]
    scores = None if scores is None else scores.cpu().numpy().astype(np.float32)
    if classes is None:
        if scores is None:
            raise ValueError('the model gives no pred_scores; pass the image classes')
        indices = np.flatnonzero(scores > SCORE_THRESHOLD).astype(np.int64)
        if not len(indices):
            names = list((getattr(model, 'dataset_meta', None) or {}).get('classes') or [])
            best = int(scores.argmax()) if len(scores) else None
            top = '' if best is None else (
                f' (highest: class {best}'
                f'{f" {names[best]!r}" if best < len(names) else ""}, {scores[best]:.3f})')
            log_warning(f'inference_maps: the model predicts no class above the score '
                        f'threshold {SCORE_THRESHOLD}{top}, so there are no maps; '
                        f'{_CHECK_MODEL}; or pass the image classes (classes=)')
    elif indices is None:
        indices = _class_indices(model, classes, num_classes)
    maps, _ = class_maps(fused, indices)
    if len(indices) and maps_are_empty(maps):
        log_warning(f'inference_maps: the maps of classes {indices.tolist()} are all zero; '
                    f'{_CHECK_MODEL}')
    return dict(classes=indices, maps=maps.astype(np.float32), scores=scores)
