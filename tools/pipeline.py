"""The whole WSSS job in one command: stage 1 (classifier) -> 2 (maps, pseudo labels) -> 3
(DeepLab), each stage cached in the work dir so a rerun skips what is finished and an
interrupted run resumes.

    python tools/pipeline.py configs/pipelines/cam_synthetic.py [--work-dir DIR]
                             [--cfg-options key=value ...]
"""
import argparse
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger

from wsss_toolbox.pipeline import PipelineRunner
from wsss_toolbox.utils import register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Run the three-stage WSSS pipeline')
    parser.add_argument('config', help='pipeline config (configs/pipelines/*.py)')
    parser.add_argument('--work-dir', help='where every stage writes (default: '
                        'work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override pipeline settings, e.g. pseudo_labels.nproc=2 '
                        'stage1.cfg_options.train_cfg.max_epochs=2')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'Config file "{args.config}" does not exist.')
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    MMLogger.get_instance('wsss_pipeline', log_level='INFO')
    PipelineRunner(cfg, work_dir, config_dir=osp.dirname(osp.abspath(args.config))).run()


if __name__ == '__main__':
    main()
