"""SyncBN through mmengine's `sync_bn` config key, on this CPU-only machine.

With `sync_bn='torch'` mmengine's Runner, when distributed, converts every BatchNorm layer
with `convert_sync_batchnorm(model, 'torch')` and then wraps the model in DDP. The conversion
is checked here as the Runner calls it. The rest does not run on CPU -- torch's DDP refuses
SyncBatchNorm layers in CPU modules ("SyncBatchNorm layers only work with GPU modules") and
SyncBatchNorm refuses CPU tensors in training -- so `prepare_distributed` refuses a CPU
`torchrun` that asks for synchronised BatchNorm, which is checked too. Synchronised
statistics themselves (N processes of batch B == one process of batch N*B) need GPUs and are
not checked by this suite.
"""
import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.model import convert_sync_batchnorm, revert_sync_batchnorm
from mmengine.registry import DefaultScope

from wsss_toolbox.engine import prepare_distributed
from wsss_toolbox.registry import MODELS
from wsss_toolbox.utils import register_all_modules

CAM = osp.join('configs', 'cam', 'cam_tiny_1xb16-8e_synthetic-128x128.py')
DEEPLAB = osp.join('configs', 'deeplab',
                   'deeplab-largefov_tiny_1xb8-600it_synthetic-pseudo-128x128.py')


def _norm_types(model):
    return [type(m).__name__ for m in model.modules()
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


@pytest.mark.parametrize('config', [CAM, DEEPLAB], ids=['stage1', 'stage3'])
def test_sync_bn_config_converts_every_batchnorm_as_the_runner_does(config):
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    # the configs offer it as a commented line; off by default
    assert cfg.get('sync_bn') is None
    with open(osp.join(REPO_ROOT, config)) as f:
        assert "# sync_bn = 'torch'" in f.read()
    cfg.merge_from_dict(dict(sync_bn='torch'))  # = --cfg-options sync_bn=torch
    with DefaultScope.overwrite_default_scope('wsss_toolbox'):
        model = MODELS.build(cfg.model)
    norms = _norm_types(model)
    assert norms and set(norms) == {'BatchNorm2d'}  # TinyConvNet: 8 Conv-BN-ReLU
    # mmengine Runner.wrap_model, distributed: convert_sync_batchnorm(model, cfg.sync_bn)
    synced = convert_sync_batchnorm(model, cfg.sync_bn)
    assert _norm_types(synced) == ['SyncBatchNorm'] * len(norms)
    synced.eval()
    with torch.no_grad():  # inference needs no synchronisation: works on CPU
        synced(torch.randn(1, 3, 32, 32), mode='tensor')
    # one process: the Runner reverts SyncBN to (mmengine's) BN
    assert set(_norm_types(revert_sync_batchnorm(synced))) == {'_BatchNormXd'}


def _torchrun_env(monkeypatch):
    for key, value in dict(RANK='0', WORLD_SIZE='2', LOCAL_RANK='0',
                           MASTER_ADDR='127.0.0.1').items():
        monkeypatch.setenv(key, value)


def test_cpu_torchrun_with_sync_bn_is_refused_up_front(monkeypatch):
    _torchrun_env(monkeypatch)
    cfg = Config.fromfile(osp.join(REPO_ROOT, CAM))
    cfg.launcher = 'pytorch'
    cfg.sync_bn = 'torch'
    with pytest.raises(RuntimeError, match="sync_bn='torch'.*needs GPUs"):
        prepare_distributed(cfg)
    # a SyncBN norm layer in the model is the same request (the r101 / DeepLabV3 configs)
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'deeplab',
                                   'deeplab-largefov_r101_1xb10-15k_voc12aug-pseudo-321x321.py'))
    cfg.launcher = 'pytorch'
    with pytest.raises(RuntimeError, match=r"model\.backbone\.norm_cfg = 'SyncBN'"):
        prepare_distributed(cfg)
    # one process (no launcher): nothing to refuse, the Runner reverts SyncBN to BN
    cfg.launcher = 'none'
    prepare_distributed(cfg)
