"""Train a tiny config on a generated benchmark (run by test_resume_exact.py): the CAM
classifier (epoch-based loop) or DeepLab on the ground-truth masks as pseudo labels
(iteration-based loop).

``resume_run.py {cam,deeplab} DATA WORK full``: an uninterrupted run in ``WORK/full``, final
weights in ``WORK/full/final.pth``; then, in the same process, a run in ``WORK/cut`` that kills
its own process (SIGKILL, as ``kill -9``) in the middle of the run.
``resume_run.py {cam,deeplab} DATA WORK resume``: resumes ``WORK/cut`` from its last
checkpoint and saves ``WORK/cut/final.pth``.
"""
import os
import os.path as osp
import signal
import sys

import torch
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop, Runner

import wsss_toolbox  # noqa: F401  (registries)
from wsss_toolbox.engine.config import load_config

CONFIGS = osp.join(osp.dirname(__file__), '..', '..', 'configs')
SETTINGS = dict(
    cam=dict(config='cam/cam_tiny_1xb16-8e_synthetic-128x128.py', options={
        'train_cfg.max_epochs': 3, 'train_cfg.val_interval': 1,
        'param_scheduler': [dict(type='MultiStepLR', by_epoch=True, milestones=[2])]}),
    deeplab=dict(config='deeplab/deeplab-largefov_tiny_1xb8-600it_synthetic-pseudo-128x128.py',
                 options={
                     'train_cfg.max_iters': 8, 'train_cfg.val_interval': 4,
                     'default_hooks.checkpoint.interval': 3,
                     'param_scheduler': [dict(type='PolyLR', power=0.9, end=8, by_epoch=False)]}))


class KillHook(Hook):
    """SIGKILL in the middle of the run: epoch 1 batch 1 (after epoch 1's checkpoint), or
    iteration 5 (after iteration 3's checkpoint)."""

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        by_epoch = isinstance(runner.train_loop, EpochBasedTrainLoop)
        if ((runner.epoch, batch_idx) == (1, 1)) if by_epoch else runner.iter == 5:
            os.kill(os.getpid(), signal.SIGKILL)


def train(kind: str, data_root: str, work_dir: str, resume: bool, kill: bool) -> None:
    cfg = load_config(osp.join(CONFIGS, SETTINGS[kind]['config']))
    cfg.merge_from_dict({
        'train_dataloader.dataset.data_root': data_root, 'train_dataloader.batch_size': 4,
        'val_dataloader.dataset.data_root': data_root,
        'test_dataloader.dataset.data_root': data_root,
        'default_hooks.logger.interval': 1000,
        'visualizer.name': f'visualizer_{kind}_{osp.basename(work_dir)}',
        **SETTINGS[kind]['options']})
    if kind == 'deeplab':  # the ground-truth masks serve as pseudo labels
        cfg.train_dataloader.dataset.pseudo_label_dir = osp.join(data_root, 'SegmentationClass')
    cfg.work_dir, cfg.resume = work_dir, resume
    cfg.experiment_name = osp.basename(work_dir)
    runner = Runner.from_cfg(cfg)
    if kill:
        runner.register_hook(KillHook())
    runner.train()
    torch.save(runner.model.state_dict(), osp.join(work_dir, 'final.pth'))
    # stop this run's persistent loader workers now: left to the garbage collector, the next
    # run of this process waits ~20 s for them (torch joins each with a 5 s timeout)
    for loader in (runner.train_dataloader, runner.val_dataloader):
        iterator = getattr(loader, '_iterator', None)
        if iterator is not None:
            iterator._shutdown_workers()


if __name__ == '__main__':
    kind, data, work, mode = sys.argv[1:5]
    if mode == 'full':
        train(kind, data, osp.join(work, 'full'), resume=False, kill=False)
        train(kind, data, osp.join(work, 'cut'), resume=False, kill=True)
    else:
        train(kind, data, osp.join(work, 'cut'), resume=True, kill=False)
