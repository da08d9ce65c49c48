"""Warnings for degenerate results: empty maps or no predicted class for most images.

A classifier trained too briefly (or not at all, or loaded from the wrong checkpoint) can give
all-zero maps or scores that never pass the threshold; every later number then looks like a
result (a threshold sweep of background only, no pseudo-label foreground) without saying why.
The map writer, the map evaluation, the classification metric and the Python API count such
images and call :func:`warn_if_degenerate`, which logs one warning (mmengine's ``print_log``,
level WARNING) when they are more than :data:`DEGENERATE_FRACTION` of the images.
"""
import logging
from typing import Optional

import numpy as np
from mmengine.logging import print_log

#: a result is degenerate when more than this fraction of the images are empty / predict nothing
DEGENERATE_FRACTION = 0.5
#: a class map whose peak is below this is empty (the written maps are divided by their peak,
#: so a map that has any activation peaks near 1)
EMPTY_MAP_EPS = 1e-6
#: what to check when the maps or scores are degenerate
CLASSIFIER_HINT = ('check the classifier: its checkpoint (the right file, trained weights), '
                   'its schedule (too short a training gives flat maps and scores) and its '
                   'validation mAP')


def maps_are_empty(maps, eps: float = EMPTY_MAP_EPS) -> bool:
    """Whether ``maps`` (K, H, W) give no foreground: no class map has a peak >= ``eps``
    (a file with no class map at all gives none either)."""
    maps = np.asarray(maps)
    return maps.size == 0 or not float(maps.max()) >= eps  # NaN maps are empty too


def empty_maps_text(map_dir: str) -> str:
    """What :func:`warn_if_degenerate` says of images with empty maps in ``map_dir``."""
    return f'have empty maps in "{map_dir}" (no class map reaches {EMPTY_MAP_EPS:g})'


def degenerate_message(count: int, total: int, what: str, hint: str = CLASSIFIER_HINT
                       ) -> Optional[str]:
    """The warning text when ``count`` of ``total`` images is more than
    :data:`DEGENERATE_FRACTION` of them (else None): ``"<count> of <total> images (<p> %)
    <what>; <hint>"``."""
    if total <= 0 or count / total <= DEGENERATE_FRACTION:
        return None
    return f'{count} of {total} images ({100 * count / total:.0f} %) {what}; {hint}'


def log_warning(message: str) -> str:
    """Log ``message`` as a WARNING on mmengine's current logger; returns it."""
    print_log(message, logger='current', level=logging.WARNING)
    return message


def warn_if_degenerate(count: int, total: int, what: str, hint: str = CLASSIFIER_HINT
                       ) -> Optional[str]:
    """:func:`degenerate_message`, logged as a warning when there is one; returns it."""
    message = degenerate_message(count, total, what, hint)
    return None if message is None else log_warning(message)
