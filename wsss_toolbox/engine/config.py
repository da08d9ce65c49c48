"""Reading mmengine configs with errors that name the file.

mmengine 0.10.7 parses a config with ``ast.parse(source)`` before anything else (to tell lazy
from plain configs), so a syntax error is reported as ``File "<unknown>", line N``: neither
the config nor, for an error in a ``_base_`` file, which file of the chain. :func:`load_config`
is the one way the toolbox and its tools read a config file; it re-raises such an error as a
:class:`ConfigSyntaxError` with the real path, line and text.

A config file renamed in a release stays at its old path for one version as a thin config
that inherits the new one and carries mmengine's ``_deprecation_ = dict(expected=<new path>,
reference=...)``: mmengine drops the key (the loaded config equals the new file's) and warns
naming the new path, for a ``_base_`` of the old path too; :func:`load_config` makes that
warning visible (logged, and warned from its caller).
"""
import ast
import logging
import os
import os.path as osp
import warnings
from typing import List, Optional, Set, Union

from mmengine.config import Config
from mmengine.logging import print_log


class ConfigSyntaxError(SyntaxError):
    """A syntax error in a config file (or one of its ``_base_`` files), with its real path
    and line."""

    def __str__(self) -> str:  # the message already names the file and line
        return str(self.msg)


def _base_paths(tree: ast.Module, filename: str) -> List[str]:
    """The files named by a parsed config's ``_base_`` (those that can be resolved)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == '_base_'
                for target in node.targets):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                return []
            bases = [value] if isinstance(value, str) else list(value)
            paths = []
            for base in bases:
                try:
                    path, _ = Config._get_cfg_path(base, filename)
                except Exception:  # an unknown package scope: mmengine reports it itself
                    continue
                paths.append(path)
            return paths
    return []


def find_config_syntax_error(filename: str,
                             _seen: Optional[Set[str]] = None) -> Optional[SyntaxError]:
    """The first syntax error of a Python config or of its ``_base_`` files (depth first),
    with ``filename`` / ``lineno`` set; None when they all parse."""
    seen = set() if _seen is None else _seen
    filename = osp.abspath(filename)
    if filename in seen or not filename.endswith('.py') or not osp.isfile(filename):
        return None
    seen.add(filename)
    with open(filename, encoding='utf-8') as f:
        source = f.read()
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as error:
        return error
    for base in _base_paths(tree, filename):
        found = find_config_syntax_error(base, seen)
        if found is not None:
            return found
    return None


#: how mmengine's warning for a config with a ``_deprecation_`` key begins
DEPRECATED_CONFIG = 'The config file '


def fromfile_showing_deprecations(filename: str, **kwargs) -> Config:
    """``Config.fromfile``; the warning mmengine gives for a file (or a ``_base_``) with a
    ``_deprecation_`` key is logged and warned again from the caller, where a
    ``DeprecationWarning`` raised inside mmengine is hidden by Python's default filters."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        cfg = Config.fromfile(filename, **kwargs)
    for item in caught:
        message = str(item.message)
        if issubclass(item.category, DeprecationWarning) and \
                message.startswith(DEPRECATED_CONFIG) and 'will be deprecated' in message:
            print_log(message, logger='current', level=logging.WARNING)
            warnings.warn(message, DeprecationWarning, stacklevel=3)
        else:  # anything else as it was raised
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno,
                                   source=item.source)
    return cfg


def load_config(filename: Union[str, os.PathLike], **kwargs) -> Config:
    """``Config.fromfile(filename, **kwargs)``, with errors that name the file.

    Raises:
        FileNotFoundError: the config does not exist.
        ConfigSyntaxError: the config or one of its ``_base_`` files is not valid Python; the
            error (and its traceback line) names that file and the line.
    """
    filename = os.fspath(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Config file "{filename}" does not exist.')
    try:
        return fromfile_showing_deprecations(filename, **kwargs)
    except SyntaxError:
        found = find_config_syntax_error(filename)
        if found is None:  # not a syntax error of the files themselves
            raise
    where = f'config file "{found.filename}", line {found.lineno}'
    if osp.abspath(found.filename) != osp.abspath(filename):
        where += f' (a _base_ of "{filename}")'
    details = (found.filename, found.lineno, found.offset, found.text)
    if getattr(found, 'end_lineno', None) is not None:
        details += (found.end_lineno, found.end_offset)
    raise ConfigSyntaxError(f'{found.msg} in {where}', details)
