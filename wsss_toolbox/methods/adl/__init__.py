"""ADL: attention-based dropout layer (Choe & Shim, CVPR 2019; ``configs/adl/``), the method
of LID 2020 track-3 entry #5.

Importing this package registers (``MODELS``):

* :class:`AttentionDropout` -- the layer (drop mask / importance map, training only);
* :func:`ADLBackbone` -- builds any backbone with ADL layers after named modules.
"""
from .layers import ADLBackbone, AttentionDropout, adl_maps

__all__ = ['ADLBackbone', 'AttentionDropout', 'adl_maps']
