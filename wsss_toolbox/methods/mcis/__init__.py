"""MCIS: mining cross-image semantics (Sun, Wang, Dai, Van Gool, ECCV 2020; ``configs/mcis/``).

Importing this package registers:

* :mod:`.heads` -- :class:`MCISHead` (``MODELS``; basic, co-attention and contrastive
  co-attention branches, Eqs. 1-10) and its parts :func:`co_attention` (Eqs. 2-4),
  :func:`contrastive_features` (Eqs. 6-8), :func:`label_intersection`,
  :func:`label_difference`;
* :mod:`.classifiers` -- :class:`MCISClassifier` (``MODELS``; the authors' self-pairs);
* :mod:`.hooks` -- :class:`MCISTrainingHook` (``HOOKS``; contrastive warm-up epoch, pair
  data checks);
* :mod:`.inference` -- :func:`infer_mcis_maps` (single-round, multi-round, authors' fusion);
* :mod:`.steps` -- :class:`MCISInferMaps` (``PIPELINE_STEPS``).

Pairs come from the core's ``ClassPairSampler`` + ``ImageGroupDataset`` + ``group_collate``.
"""
from .classifiers import MCISClassifier
from .heads import (
    MCISHead,
    co_attention,
    contrastive_features,
    group_pairs,
    label_difference,
    label_intersection,
)
from .hooks import MCISTrainingHook
from .inference import (
    fuse_authors_maps,
    infer_mcis_maps,
    mcis_image_maps,
    resize_fused_maps,
    sample_related_images,
)
from .steps import MCISInferMaps

__all__ = [
    'MCISHead', 'MCISClassifier', 'MCISTrainingHook', 'MCISInferMaps',
    'co_attention', 'contrastive_features', 'group_pairs', 'label_intersection', 'label_difference',
    'infer_mcis_maps', 'mcis_image_maps', 'fuse_authors_maps', 'resize_fused_maps',
    'sample_related_images'
]
