"""Distributed training without GPUs (``torchrun`` on CPU with the gloo backend).

mmengine 0.10.7 assumes a GPU per process when launched with ``--launcher pytorch``: it calls
``torch.cuda.set_device(LOCAL_RANK)`` and wraps the model in DDP with
``device_ids=[LOCAL_RANK]``. Both fail on a CPU-only machine. :func:`prepare_distributed`
initialises the gloo process group itself (the runner then skips its own ``init_dist``) and
selects :class:`DeviceAgnosticDDP`, which passes ``device_ids`` only for GPU modules.
"""
import logging
import os
import sys
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.model import MMDistributedDataParallel

from wsss_toolbox.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class DeviceAgnosticDDP(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that also wraps CPU modules (no ``device_ids``)."""

    def __init__(self, module: torch.nn.Module, device_ids: Any = None, **kwargs) -> None:
        on_gpu = any(p.is_cuda for p in module.parameters())
        super().__init__(module=module, device_ids=device_ids if on_gpu else None, **kwargs)


def prepare_distributed(cfg: Config) -> None:
    """Make ``cfg.launcher == 'pytorch'`` work on machines without CUDA.

    With CUDA nothing changes. Without it the process group is initialised with gloo from
    torchrun's environment variables and the model wrapper becomes :class:`DeviceAgnosticDDP`;
    a config that asks for synchronised BatchNorm (``sync_bn`` or a ``SyncBN`` layer), which
    does not run distributed on CPU, is refused here with an explanation instead of failing
    when the runner wraps the model.
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return
    if cfg.launcher != 'pytorch':
        raise RuntimeError(f'launcher "{cfg.launcher}" needs GPUs; on a CPU-only machine use '
                           'torchrun with --launcher pytorch.')
    sync_bn = _sync_batchnorm_setting(cfg)
    if sync_bn:
        raise RuntimeError(
            f'{sync_bn}: synchronised BatchNorm needs GPUs (torch\'s DistributedDataParallel '
            'refuses SyncBatchNorm layers in CPU modules and SyncBatchNorm refuses CPU tensors '
            'in training; mmcv\'s is CUDA-only), and this machine has none. With several CPU '
            'processes drop sync_bn / use norm_cfg=dict(type=\'BN\'): each process then '
            'normalises with the statistics of its own batch.')
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR')
               if k not in os.environ]
    if missing:
        raise RuntimeError(f'--launcher pytorch expects torchrun to set {missing}: start the '
                           'job with `torchrun --nproc_per_node=N tools/train.py ...`.')
    if not torch_dist.is_initialized():
        timeout = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('timeout', None)
        kwargs = {}
        if timeout is not None:
            kwargs['timeout'] = timedelta(seconds=timeout)
        torch_dist.init_process_group(backend='gloo', **kwargs)
    wrapper_cfg = cfg.get('model_wrapper_cfg', None) or {}
    if wrapper_cfg.get('type', 'MMDistributedDataParallel') == 'MMDistributedDataParallel':
        # The runner looks the type up in mmengine's root registry, which only resolves
        # prefixes of its direct children: ours sits below mmseg's, hence the double prefix.
        wrapper_cfg = dict(wrapper_cfg, type='mmseg.wsss_toolbox.DeviceAgnosticDDP')
        if 'find_unused_parameters' in cfg and 'find_unused_parameters' not in wrapper_cfg:
            wrapper_cfg['find_unused_parameters'] = cfg.find_unused_parameters
        cfg.model_wrapper_cfg = wrapper_cfg


def _sync_batchnorm_setting(cfg: Config) -> str:
    """What in ``cfg`` asks for synchronised BatchNorm: mmengine's ``sync_bn`` key (the Runner
    converts every BN layer when distributed) or a ``SyncBN`` norm layer in the model;
    ``''`` if nothing does."""
    if cfg.get('sync_bn'):
        return f'sync_bn={cfg.sync_bn!r}'

    def find(node, path):
        if isinstance(node, dict):
            if node.get('type') in ('SyncBN', 'MMSyncBN'):
                return f'{path} = {node["type"]!r}'
            items = node.items()
        elif isinstance(node, (list, tuple)):
            items = ((str(index), value) for index, value in enumerate(node))
        else:
            return ''
        for key, value in items:
            found = find(value, f'{path}.{key}')
            if found:
                return found
        return ''

    return find(cfg.get('model', {}), 'model')


def finish_distributed() -> None:
    """End a distributed tool run: destroy the default process group, flush the logs and
    leave the process with exit status 0 without the interpreter's native teardown. Does
    nothing in a single-process run. Call it last, when all work is written.

    Left to interpreter shutdown, gloo's worker threads are sometimes torn down while still
    joinable and the process aborts ("terminate called without an active exception", exit
    -6) after training has finished; torchrun then reports the whole job as failed.
    Destroying the group first made this rarer but not impossible (seen again in CI with
    two torchrun jobs side by side), so the process skips that teardown.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

