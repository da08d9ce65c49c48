"""OAA: online attention accumulation (Jiang et al., ICCV 2019 / TPAMI; ``configs/oaa/``).

Importing this package registers every OAA component:

* :mod:`.store` -- :class:`CumulativeMapStore`, the per-image cumulative maps (Eqs. 4-5, 10),
  updated a whole batch at a time (:class:`MapBatchUpdate`; records in :mod:`.updates`, slot
  arrays in :mod:`.slab`, merging and state in :mod:`.state`);
* :mod:`.export` -- the two export modes of the cumulative maps and their files;
* :mod:`.recorder` -- :class:`CumulativeMapRecorderHook` (OAA; grouped settings in
  :mod:`.recorder_options`, attention and score condition in :mod:`.attention`) and
  :mod:`.attention_drop` -- :class:`AttentionDropHook` (OAA++'s attention drop layer,
  Algorithm 1) (``HOOKS``; both re-exported by :mod:`.hooks`);
* :mod:`.heads` -- :class:`IntegralAttentionHead`, the integral attention model of OAA+
  (``MODELS``);
* :mod:`.losses` -- :class:`HybridLoss` (Eqs. 7-9) and :class:`MCELoss` (Eq. 6) (``MODELS``);
* :mod:`.transforms` -- :class:`LoadCumulativeMaps` and :class:`PackWSSSInputsWithSoftMaps`,
  the soft pixel labels of OAA+, and the authors' data transforms :class:`ResizeShortSide`
  and :class:`ColorJitterBGR` (``TRANSFORMS``);
* :mod:`.accumulation` -- :class:`PerEpochAccumulationOptimWrapper`, gradient accumulation
  counted per epoch as the authors' training loops count it (``OPTIM_WRAPPERS``);
* :mod:`.steps` -- :class:`CumulativeMaps`, the pipeline step that hands the exported
  cumulative maps to stage 2 (``PIPELINE_STEPS``).
"""
from .accumulation import PerEpochAccumulationOptimWrapper
from .heads import IntegralAttentionHead
from .hooks import (
                    AttentionDropHook,
                    CumulativeMapRecorderHook,
                    attention_drop_mask,
                    attention_maps,
                    batch_attention,
                    occlude,
                    preprocessor_fill,
                    score_condition,
)
from .losses import HybridLoss, MCELoss
from .steps import CumulativeMaps
from .store import (
                    CumulativeMapStore,
                    MapBatchUpdate,
                    MapUpdate,
                    feature_maps_to_image,
                    load_stored_maps,
                    sample_geometry,
                    save_stored_maps,
)
from .transforms import (
                         ColorJitterBGR,
                         LoadCumulativeMaps,
                         LoadStoredCumulativeMaps,
                         PackWSSSInputsWithSoftMaps,
                         ResizeShortSide,
)

__all__ = [
    'IntegralAttentionHead', 'AttentionDropHook', 'CumulativeMapRecorderHook',
    'attention_drop_mask', 'batch_attention', 'occlude', 'preprocessor_fill',
    'score_condition', 'HybridLoss', 'MCELoss', 'CumulativeMapStore', 'MapUpdate',
    'MapBatchUpdate',
    'feature_maps_to_image', 'sample_geometry', 'LoadCumulativeMaps',
    'PackWSSSInputsWithSoftMaps', 'CumulativeMaps', 'LoadStoredCumulativeMaps',
    'ResizeShortSide', 'ColorJitterBGR', 'attention_maps', 'load_stored_maps',
    'save_stored_maps', 'PerEpochAccumulationOptimWrapper'
]
