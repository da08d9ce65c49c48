"""mmengine hooks of the toolbox (registered in ``wsss_toolbox.registry.HOOKS``)."""
from .attention_drop import (AttentionDropHook, attention_drop_mask, occlude,
                             preprocessor_fill)
from .cumulative_map_recorder import (CumulativeMapRecorderHook, batch_attention,
                                      score_condition)

__all__ = [
    'AttentionDropHook', 'attention_drop_mask', 'occlude', 'preprocessor_fill',
    'CumulativeMapRecorderHook', 'batch_attention', 'score_condition'
]
