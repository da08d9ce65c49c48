"""High-level APIs: the Python API for one image (``init_classifier``, ``inference_maps``,
``make_pseudo_label``) and what the command-line tools share."""
from .cli import add_common_args, load_cli_config, parse_with_local_rank
from .inference import inference_maps, init_classifier, make_pseudo_label

__all__ = [
    'add_common_args', 'load_cli_config', 'parse_with_local_rank', 'inference_maps',
    'init_classifier', 'make_pseudo_label'
]
