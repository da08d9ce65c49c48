"""The toolbox on a CUDA device (marker ``gpu``; ``tools/gpu_check.sh`` runs them, tiny sizes):
stage-1 training with the Runner (float32 and float16 AMP), map inference on the device
(float32 against the CPU, and AMP + channels-last), a stage-3 DeepLab step (AMP,
channels-last) and a 1-GPU ``torchrun`` (NCCL, SyncBN, AMP). Skipped without CUDA; with
``WSSS_GPU_CHECK_DEVICE=cpu`` they run on the CPU (tests/gpu/conftest.py), the CUDA-only
parts (float16 AMP training, NCCL, SyncBN) then skipped or left out."""
import argparse
import copy
import importlib.util
import os
import os.path as osp
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT, write_tiny_voc

from wsss_toolbox.maps import load_maps, map_path

pytestmark = pytest.mark.gpu

CAM_CONFIG = osp.join(REPO_ROOT, 'configs', 'cam', 'cam_tiny_1xb16-8e_synthetic-128x128.py')
DEEPLAB_CONFIG = osp.join(REPO_ROOT, 'configs', 'deeplab',
                          'deeplab-largefov_tiny_1xb8-600it_synthetic-pseudo-128x128.py')
SEGMENTOR_CONFIG = osp.join('tests', 'data', 'configs', 'tiny_segmentor.py')
# float32 maps on the GPU against the CPU: cuDNN may use TF32 convolutions on recent cards
DEVICE_MAP_TOLERANCE = 1e-2
# float16 on a GPU; bfloat16 on the CPU (rehearsal) has 3 bits less: with random weights a
# class map's tiny peak magnifies the rounding (docs/benchmarks.md)
AMP_MAP_TOLERANCE = {'cuda': 0.05, 'cpu': 0.25}


@pytest.fixture(scope='module')
def synthetic(tmp_path_factory) -> str:
    from wsss_toolbox.datasets.synthetic_benchmark import generate_synthetic_benchmark
    from wsss_toolbox.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    root = str(tmp_path_factory.mktemp('synthetic'))
    generate_synthetic_benchmark(root, num_train=8, num_val=2, image_size=64, num_workers=1)
    return root


def _stage1_config(root: str, work_dir: str, amp: bool):
    from wsss_toolbox.engine.config import load_config
    cfg = load_config(CAM_CONFIG)
    cfg.work_dir = work_dir
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].update(batch_size=4, num_workers=0, persistent_workers=False)
        cfg[loader].dataset.data_root = root
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2, val_interval=2)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.experiment_name = f'gpu_stage1_{"amp" if amp else "fp32"}_{os.getpid()}'
    cfg.visualizer = dict(cfg.visualizer, name=cfg.experiment_name)
    if amp:
        cfg.optim_wrapper.update(type='AmpOptimWrapper', dtype='float16', loss_scale='dynamic')
    return cfg


@pytest.mark.parametrize('amp', [False, True], ids=['fp32', 'amp_fp16'])
def test_stage1_training(device, synthetic, tmp_path, amp):
    """Two epochs of the tiny CAM classifier with mmengine's Runner, which puts the model on
    the GPU when torch sees one; finite losses, a checkpoint and a validation metric."""
    if amp and device == 'cpu':
        pytest.skip("float16 AMP training: mmengine's AmpOptimWrapper needs CUDA")
    from mmengine.runner import Runner
    runner = Runner.from_cfg(_stage1_config(synthetic, str(tmp_path / 'work'), amp))
    runner.train()
    model = runner.model.module if hasattr(runner.model, 'module') else runner.model
    assert next(model.parameters()).device.type == device.split(':')[0]
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert np.isfinite(loss), loss
    assert osp.isfile(osp.join(tmp_path, 'work', 'epoch_2.pth'))
    assert any(key.startswith('val/') for key in runner.message_hub.log_scalars), \
        sorted(runner.message_hub.log_scalars)
    if amp:
        assert type(runner.optim_wrapper).__name__ == 'AmpOptimWrapper'


def _maps(folder: str, samples) -> dict:
    return {s['img_id']: load_maps(map_path(folder, s['img_id']))['maps'].astype(np.float32)
            for s in samples}


def _max_difference(a: dict, b: dict) -> float:
    return max(float(np.abs(a[key] - b[key]).max(initial=0)) for key in a)


def test_map_inference(device, synthetic, tmp_path):
    """infer_maps on the device equals the CPU's (float32), and with amp + channels_last
    (float16 on a GPU) stays close to it."""
    from wsss_toolbox.engine.config import load_config
    from wsss_toolbox.maps.inference import infer_maps
    from wsss_toolbox.registry import DATASETS, MODELS
    dataset = DATASETS.build(dict(type='SyntheticWSSSDataset', data_root=synthetic,
                                  split='train', pipeline=[]))
    samples = [dataset.get_data_info(i) for i in range(len(dataset))]
    cfg = load_config(CAM_CONFIG)
    cfg.model.head.num_classes = len(samples[0]['gt_label'])
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    on_device = copy.deepcopy(model).to(device)
    fast = copy.deepcopy(model).to(device)
    run = dict(scales=(1.0, 0.5, 1.5), flip=True, fusion='mean', overwrite=True,
               progress=False)
    infer_maps(model, samples, str(tmp_path / 'cpu'), **run)
    infer_maps(on_device, samples, str(tmp_path / 'device'), **run)
    infer_maps(fast, samples, str(tmp_path / 'amp'), amp=True, channels_last=True, **run)
    assert next(fast.parameters()).is_contiguous(memory_format=torch.channels_last)
    cpu, dev, amp = (_maps(str(tmp_path / name), samples) for name in ('cpu', 'device', 'amp'))
    assert _max_difference(cpu, dev) <= DEVICE_MAP_TOLERANCE
    assert all(np.isfinite(m).all() for m in amp.values())
    assert _max_difference(dev, amp) <= AMP_MAP_TOLERANCE[device.split(':')[0]]


@pytest.fixture(scope='module')
def stage3_bench():
    path = osp.join(REPO_ROOT, 'tools', 'analysis', 'benchmark_stage3.py')
    spec = importlib.util.spec_from_file_location('benchmark_stage3', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('amp', [False, True], ids=['fp32', 'amp_fp16'])
def test_stage3_step(device, stage3_bench, amp):
    """Training steps and a prediction of the tiny DeepLab (CRFEncoderDecoder + LargeFOV) in
    channels-last on the device; float16 AMP through mmengine's AmpOptimWrapper."""
    if amp and device == 'cpu':
        pytest.skip("float16 AMP training: mmengine's AmpOptimWrapper needs CUDA")
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from wsss_toolbox.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    init_default_scope('wsss_toolbox')
    args = argparse.Namespace(device=device, seed=0, crop_size=64, batch_size=2,
                              channels_last=True)
    bench = stage3_bench.Bench(Config.fromfile(DEEPLAB_CONFIG), 'toolbox', args, amp)
    before = [p.detach().clone() for p in bench.model.parameters()]
    for _ in range(3):
        bench.train_step()  # raises on a non-finite loss
    changed = [not torch.equal(a, b) for a, b in zip(before, bench.model.parameters())]
    assert any(changed)
    assert next(bench.model.parameters()).device.type == device.split(':')[0]
    bench.model.eval()
    with torch.no_grad():
        results = bench.model.test_step(bench.batch)
    assert results[0].pred_sem_seg.data.shape == (1, 64, 64)
    assert type(bench.model).__name__ == 'CRFEncoderDecoder'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_torchrun_one_gpu(device, tmp_path):
    """tools/train.py under a 1-process torchrun; on CUDA with NCCL, SyncBN and AMP."""
    root = write_tiny_voc(str(tmp_path / 'tiny_voc'))
    work_dir = str(tmp_path / 'dist')
    options = [f'{split}_dataloader.dataset.data_root={root}'
               for split in ('train', 'val', 'test')]
    extra = []
    if device != 'cpu':
        options += ['env_cfg.dist_cfg.backend=nccl', 'sync_bn=torch']
        extra = ['--amp']
    # the kit of tools/gpu_check.sh is on PYTHONPATH: keep it for the child processes
    pythonpath = os.pathsep.join(p for p in (REPO_ROOT, os.environ.get('PYTHONPATH')) if p)
    env = dict(os.environ, PYTHONPATH=pythonpath, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=1',
         f'--master_port={_free_port()}', 'tools/train.py', SEGMENTOR_CONFIG, '--launcher',
         'pytorch', '--work-dir', work_dir] + extra + ['--cfg-options'] + options,
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    assert 'Distributed training: True' in output
    assert osp.isfile(osp.join(work_dir, 'iter_6.pth'))
    if device != 'cpu':  # the config dump names both
        assert 'nccl' in output and 'AmpOptimWrapper' in output
