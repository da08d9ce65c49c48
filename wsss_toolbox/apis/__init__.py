"""High-level APIs shared by the command-line tools."""
from .cli import add_common_args, load_cli_config, parse_with_local_rank

__all__ = ['add_common_args', 'load_cli_config', 'parse_with_local_rank']
