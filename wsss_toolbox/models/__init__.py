"""Models: stage-1 backbones, attention heads, losses and the WSSS classifier, plus the
stage-3 decode heads (``decode_heads``) and segmentors (``segmentors``)."""
# the `wsss_toolbox://` checkpoint scheme (registered on import; kept in engine, which the
# pipeline imports without the models)
from wsss_toolbox.engine.pretrained import (  # noqa: F401
    SCHEME,
    shipped_checkpoint,
    shipped_provenance,
)

from .backbones import *  # noqa: F401,F403
from .classifiers import *  # noqa: F401,F403
from .decode_heads import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .segmentors import *  # noqa: F401,F403
from .utils import crop_valid_region, normalized_attention, resize_maps_to_image  # noqa: F401
