"""What tools/train.py and tools/test.py share: common flags and config loading."""
import argparse
import os
import os.path as osp
from typing import Any, Mapping, Optional, Tuple

from mmengine.config import Config, DictAction

from wsss_toolbox.engine.config import load_config


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """``--work-dir``, ``--cfg-options``, ``--launcher`` and ``--local-rank`` (mmseg's flags)."""
    parser.add_argument('--work-dir', help='the dir to save logs, checkpoints and metrics '
                        "(overrides the config's work_dir)")
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value pairs such as '
        'train_cfg.max_iters=100 model.head.num_classes=20')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher (pytorch = torchrun); sets the '
                        "config's launcher")
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK instead
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_with_local_rank(parser: argparse.ArgumentParser) -> argparse.Namespace:
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


class ConflictingOptionsError(ValueError):
    """A setting given twice on the command line (its own option and ``--cfg-options``)."""


def refuse_double_overrides(cfg_options: Optional[Mapping[str, Any]],
                            flags: Mapping[str, Tuple[str, Any]]) -> None:
    """Refuse a config key set on the command line twice: by its own option and by
    ``--cfg-options`` (one of the two would be ignored).

    Args:
        cfg_options: the parsed ``--cfg-options`` (dotted key -> value), or None.
        flags: config key -> ``(option name, value given)``; a value of None (or False for
            a switch) means the option was not given.

    Raises:
        ConflictingOptionsError: naming both spellings.
    """
    for key, (flag, value) in flags.items():
        if not cfg_options or key not in cfg_options or value is None or value is False:
            continue
        shown = '' if value is True else f' {value}'
        raise ConflictingOptionsError(
            f'{flag}{shown} and --cfg-options {key}={cfg_options[key]} both set `{key}` and '
            'one would be ignored; give only one of them.')


def load_cli_config(args: argparse.Namespace) -> Config:
    """Read ``args.config``, apply ``--cfg-options`` and ``--launcher``, and set the work dir
    (command line > config > ``./work_dirs/<config name>``).

    Raises:
        ConflictingOptionsError: ``--work-dir`` (or ``--launcher``) and ``--cfg-options
            work_dir=`` (or ``launcher=``) are both given.
    """
    refuse_double_overrides(args.cfg_options, dict(
        work_dir=('--work-dir', args.work_dir),
        launcher=('--launcher', None if args.launcher == 'none' else args.launcher)))
    cfg = load_config(args.config)  # errors name the file (and the line of a syntax error)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg
