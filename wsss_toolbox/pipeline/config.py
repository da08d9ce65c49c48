"""Reading a pipeline config: settings, an ordered list of step names, one dict per step.

A pipeline config (``configs/pipelines/``) is an mmengine config::

    data_root = 'data/synthetic'                      # settings (PIPELINE_SETTINGS)
    steps = ['stage1', 'maps', 'eval_maps', ...]      # the order the steps run in
    stage1 = dict(type='TrainClassifier', config='../cam/...py')   # one dict per step
    maps = dict(type='InferMaps', classifier='stage1', scales=(1.0, 0.5))

Inherited configs override a step by its key and may list other ``steps``. A key that is
neither a setting, nor a step dict (``type`` registered in ``PIPELINE_STEPS``), nor a private
helper variable (name starting with ``_``) is an error: a typo never goes unnoticed.

The ``config`` paths of steps are resolved against the folder of the file that declared them,
so a pipeline that inherits another from a different folder works from any directory.
"""
import os.path as osp
from typing import Dict, List, Optional

from mmengine.config import Config

from wsss_toolbox.engine.config import load_config
from wsss_toolbox.registry import PIPELINE_STEPS

from .console import LOG_DIR

# top-level keys that are not steps
PIPELINE_SETTINGS = ('steps', 'data_root', 'synthetic_benchmark', 'custom_imports', 'work_dir',
                     'default_scope')


class PipelineConfigError(ValueError):
    """A pipeline config that cannot run as written."""


def _declaring_dir(filename: str, step: str, value: str, cache: Dict[str, Config]) -> str:
    """Folder of the file in ``filename``'s inheritance chain that set ``<step>.config``."""
    for base in Config._get_base_files(filename):
        base_path = osp.join(osp.dirname(filename), base)
        if not osp.isfile(base_path):  # e.g. `mmseg::` bases: they declare no pipeline steps
            continue
        if base_path not in cache:
            cache[base_path] = load_config(base_path)
        declared = cache[base_path].get(step)
        if isinstance(declared, dict) and declared.get('config') == value:
            return _declaring_dir(base_path, step, value, cache)
    return osp.dirname(osp.abspath(filename))


def load_pipeline_config(filename: str, cfg_options: Optional[dict] = None) -> Config:
    """Read and check a pipeline config; relative step ``config`` paths become absolute.

    ``cfg_options`` (``--cfg-options``) are merged last; a relative ``config`` path given there
    is taken relative to the current directory.
    """
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Pipeline config "{filename}" does not exist.')
    cfg = load_config(filename)
    cache: Dict[str, Config] = {}
    for key, value in cfg.items():
        if isinstance(value, dict) and isinstance(value.get('config'), str) \
                and not osp.isabs(value['config']):
            folder = _declaring_dir(filename, key, value['config'], cache)
            value['config'] = osp.normpath(osp.join(folder, value['config']))
    if cfg_options:
        cfg.merge_from_dict(dict(cfg_options))
        for key, value in cfg.items():
            if isinstance(value, dict) and isinstance(value.get('config'), str):
                value['config'] = osp.abspath(value['config'])
    check_pipeline_config(cfg, filename)
    return cfg


def step_names(cfg: Config) -> List[str]:
    """The ``steps`` list of a pipeline config."""
    return list(cfg.get('steps') or [])


def check_pipeline_config(cfg: Config, filename: str = '<pipeline config>') -> None:
    """Raise :class:`PipelineConfigError` naming any unknown key, unlisted or undefined step."""
    names = step_names(cfg)
    if not names:
        raise PipelineConfigError(f'{filename}: `steps` is missing or empty; list the step '
                                  "names in order, e.g. steps = ['stage1', 'maps', ...].")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise PipelineConfigError(f'{filename}: step(s) {duplicates} listed twice in `steps`.')
    if LOG_DIR in names:
        raise PipelineConfigError(f'{filename}: a step may not be named "{LOG_DIR}": '
                                  f'<work_dir>/{LOG_DIR}/ holds the steps\' logs; rename it.')
    for name in names:
        step = cfg.get(name)
        if not isinstance(step, dict) or 'type' not in step:
            raise PipelineConfigError(
                f'{filename}: step "{name}" is listed in `steps` but has no '
                f'`{name} = dict(type=..., ...)` entry.')
        if PIPELINE_STEPS.get(step['type']) is None:
            raise PipelineConfigError(
                f'{filename}: step "{name}" has the unknown type "{step["type"]}"; registered '
                f'steps: {sorted(PIPELINE_STEPS.module_dict)} (a plugin\'s steps need its '
                'module in `custom_imports`).')
    for key, value in cfg.items():
        if key in PIPELINE_SETTINGS or key in names or key.startswith('_'):
            continue
        is_step = (isinstance(value, dict) and isinstance(value.get('type'), str)
                   and PIPELINE_STEPS.get(value['type']) is not None)
        if not is_step:
            raise PipelineConfigError(
                f'{filename}: unknown key "{key}". A pipeline config holds the settings '
                f'{list(PIPELINE_SETTINGS)}, the steps named in `steps` ({names}) and helper '
                'variables whose names start with "_".')
