"""The toolbox's version, as a string and as a tuple (mmsegmentation's ``mmseg/version.py``)."""
from typing import Tuple, Union

__version__ = '0.1.0'


def parse_version_info(version_str: str) -> Tuple[Union[int, str], ...]:
    """``'1.2.0'`` -> ``(1, 2, 0)``, ``'1.0.0rc1'`` -> ``(1, 0, 0, 'rc1')``.

    Parts that are neither numbers nor ``<n>rc<m>`` (e.g. ``dev0``) are left out, as mmseg's
    parser does.
    """
    version_info = []
    for part in version_str.split('.'):
        if part.isdigit():
            version_info.append(int(part))
        elif 'rc' in part:
            number, _, rc = part.partition('rc')
            version_info.extend([int(number), f'rc{rc}'])
    return tuple(version_info)


version_info = parse_version_info(__version__)

__all__ = ['__version__', 'version_info', 'parse_version_info']
