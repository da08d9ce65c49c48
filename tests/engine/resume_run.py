"""Train a tiny config on a generated benchmark (run by test_resume_exact.py): the CAM
classifier (epoch-based loop) or DeepLab on the ground-truth masks as pseudo labels
(iteration-based loop).

``run_in_child(kind, DATA, WORK, mode)`` runs one mode in a forked child process (the test's
imports inherited: no interpreter start) and returns its exit code; ``python resume_run.py
{cam,deeplab} DATA WORK MODE`` runs it in this process. Modes: ``full``, an uninterrupted run
in ``WORK/full`` (final weights in ``WORK/full/final.pth``); ``cut``, a run in ``WORK/cut`` that
kills its own process (SIGKILL, as ``kill -9``) in the middle of the run; ``resume``, resumes
``WORK/cut`` from its last checkpoint and saves ``WORK/cut/final.pth``.
"""
import multiprocessing
import os
import os.path as osp
import signal
import sys

import matplotlib.pyplot  # noqa: F401  (imported once here, not in each forked run)
import torch
import torch._dynamo  # noqa: F401  (imported by the optimizer: once here, not in each run)
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop, Runner
from mmengine.runner import runner as runner_module

import wsss_toolbox  # noqa: F401  (registries)
from wsss_toolbox.engine.config import load_config

CONFIGS = osp.join(osp.dirname(__file__), '..', '..', 'configs')
SETTINGS = dict(
    cam=dict(config='cam/cam_tiny_1xb16-8e_synthetic-128x128.py', options={
        'train_cfg.max_epochs': 3, 'train_cfg.val_interval': 1,
        'param_scheduler': [dict(type='MultiStepLR', by_epoch=True, milestones=[2])]}),
    deeplab=dict(config='deeplab/deeplab-largefov_tiny_1xb8-600it_synthetic-pseudo-128x128.py',
                 options={
                     'train_cfg.max_iters': 4, 'train_cfg.val_interval': 2,
                     'default_hooks.checkpoint.interval': 2,
                     'param_scheduler': [dict(type='PolyLR', power=0.9, end=4, by_epoch=False)],
                     # the 32 px benchmark images at their size, not resized to 128 px crops
                     'model.data_preprocessor.size': (32, 32)}))
CROP = (32, 32)


class KillHook(Hook):
    """SIGKILL in the middle of the run: epoch 1 batch 1 (after epoch 1's checkpoint), or
    iteration 3 (after iteration 2's checkpoint and validation)."""

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        by_epoch = isinstance(runner.train_loop, EpochBasedTrainLoop)
        if ((runner.epoch, batch_idx) == (1, 1)) if by_epoch else runner.iter == 3:
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
        for transform in cfg.train_dataloader.dataset.pipeline:  # still random, on 32 px
            if transform.type == 'RandomResize':
                transform.scale = CROP
            elif transform.type == 'RandomCrop':
                transform.crop_size = CROP
    cfg.work_dir, cfg.resume = work_dir, resume
    cfg.experiment_name = osp.basename(work_dir)
    runner = Runner.from_cfg(cfg)
    if kill:
        runner.register_hook(KillHook())
    runner.train()
    torch.save(runner.model.state_dict(), osp.join(work_dir, 'final.pth'))
    # stop this run's persistent loader workers now: left to the garbage collector, they cost
    # ~20 s at the process's end (torch joins each with a 5 s timeout)
    for loader in (runner.train_dataloader, runner.val_dataloader):
        iterator = getattr(loader, '_iterator', None)
        if iterator is not None:
            iterator._shutdown_workers()


def run_mode(kind: str, data_root: str, work: str, mode: str) -> None:
    """One run: ``full``, ``cut`` (killed mid-run) or ``resume`` (of ``cut``)."""
    # one thread in every run: equal arithmetic, and no OpenMP pool of a forking parent used
    torch.set_num_threads(1)
    # the runner's environment log imports distutils and runs the compilers (~4 s a process),
    # and its config text (logged and dumped, read by no run) goes through yapf (~1.5 s a run)
    runner_module.collect_env = dict
    Config.pretty_text = property(lambda cfg: repr(cfg.to_dict()))
    work_dir = osp.join(work, 'full' if mode == 'full' else 'cut')
    train(kind, data_root, work_dir, resume=mode == 'resume', kill=mode == 'cut')


def run_in_child(kind: str, data_root: str, work: str, mode: str) -> int:
    """``run_mode`` in a forked child; its exit code (-9: killed by SIGKILL)."""
    child = multiprocessing.get_context('fork').Process(
        target=run_mode, args=(kind, data_root, work, mode))
    child.start()
    child.join()
    return child.exitcode


if __name__ == '__main__':
    run_mode(*sys.argv[1:5])
