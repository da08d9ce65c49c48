"""Models: stage-1 backbones, attention heads, losses and the WSSS classifier, plus the
stage-3 decode heads (``decode_heads``) and segmentors (``segmentors``)."""
from .backbones import *  # noqa: F401,F403
from .classifiers import *  # noqa: F401,F403
from .decode_heads import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .pretrained import SCHEME, shipped_checkpoint, shipped_provenance  # noqa: F401
from .segmentors import *  # noqa: F401,F403
from .utils import crop_valid_region, normalized_attention, resize_maps_to_image  # noqa: F401
