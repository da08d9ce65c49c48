"""OAA's training hooks, re-exported from the modules that define them.

* :mod:`.recorder` -- :class:`CumulativeMapRecorderHook` (online attention accumulation,
  OAA paper Sec. 3.2), with its grouped settings in :mod:`.recorder_options`;
* :mod:`.attention` -- the attention (Eq. 2) and score condition the recorder applies;
* :mod:`.attention_drop` -- :class:`AttentionDropHook`, OAA++'s attention drop layer
  (Jiang et al., TPAMI, Sec. 3.3, Algorithm 1).

Kept so that ``from wsss_toolbox.methods.oaa.hooks import ...`` keeps working.
"""
from .attention import (
    ATTENTION_NORMS,
    SCORE_RULES,
    attention_maps,
    batch_attention,
    score_condition,
)
from .attention_drop import (
    DROP_MASKS,
    DROP_PREVIOUS,
    AttentionDropHook,
    attention_drop_mask,
    occlude,
    preprocessor_fill,
)
from .recorder import CHECKPOINT_KEY, LAST_RULES, CumulativeMapRecorderHook
from .store import (
    CumulativeMapStore,
    MapBatchUpdate,
    MapUpdate,
    feature_maps_to_image,
    sample_geometry,
)

__all__ = [
    'ATTENTION_NORMS', 'SCORE_RULES', 'attention_maps', 'batch_attention', 'score_condition',
    'DROP_MASKS', 'DROP_PREVIOUS', 'AttentionDropHook', 'attention_drop_mask', 'occlude',
    'preprocessor_fill', 'CHECKPOINT_KEY', 'LAST_RULES', 'CumulativeMapRecorderHook',
    'CumulativeMapStore', 'MapBatchUpdate', 'MapUpdate', 'feature_maps_to_image',
    'sample_geometry'
]
