from .formatting import DEFAULT_META_KEYS, PackWSSSInputs
from .geometry import restore_geometry
from .loading import LoadImageWithCheck, LoadWSSSAnnotations
from .processing import RecordedRandomCrop

__all__ = [
    'DEFAULT_META_KEYS', 'LoadImageWithCheck', 'LoadWSSSAnnotations', 'PackWSSSInputs',
    'RecordedRandomCrop', 'restore_geometry'
]
