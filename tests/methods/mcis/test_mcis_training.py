"""MCIS in real runs: tools/train.py with the class-pair sampler (all losses logged, the
contrastive term off during the warm-up), tools/dist_train.sh with 2 CPU processes that ends
with the weights of the 1-process run, and the bad-input messages of the pair data.

This is the suite's 1-process == 2-process check of training (one is enough for the
mechanism: DDP's gradient averaging, the class-pair sampler's rank split and per-epoch
partners, rank 0's checkpoint); OAA's recorder, which exchanges its maps between ranks, has
its own (tests/methods/oaa/test_oaa_training.py)."""
import os.path as osp

import pytest
from conftest import train_in_one_and_two_processes
from tiny_benchmark import skip_runner_env_and_config_text

CONFIG = osp.join('configs', 'mcis', 'mcis_tiny_1xb8-4e_synthetic-128x128.py')
NUM_TRAIN = 8


@pytest.fixture(scope='module')
def benchmark(tmp_path_factory) -> str:
    from wsss_toolbox.datasets.synthetic_benchmark import generate_synthetic_benchmark
    root = str(tmp_path_factory.mktemp('mcis_synthetic'))
    generate_synthetic_benchmark(root, num_train=NUM_TRAIN, num_val=2, image_size=32, seed=1)
    return root


def options(root, batch_size, epochs=1, *extra):
    # no BatchNorm, no random flip: 1 process with 4 pairs and 2 processes with 2 pairs each
    # see the same pairs per step (the sampler's partners do not depend on the ranks)
    return ['--cfg-options', f'train_cfg.max_epochs={epochs}',
            f'train_dataloader.batch_size={batch_size}',
            'train_dataloader.dataset.dataset.pipeline.1.prob=0.0',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
            'train_cfg.val_interval=100', 'default_hooks.logger.interval=1',
            'model.backbone.norm_cfg=None', 'model.backbone.base_channels=8',
            'model.head.in_channels=32', 'model.head.channels=16',
            'model.head.contrastive_start_epoch=1',
            # the authors' skip of batches whose contrastive targets are all empty depends on
            # how the batch is split over ranks (a rank with only empty targets adds 0), so
            # 1 process and 2 processes only agree without it
            'model.head.contrastive_skip_empty=False'] + [
                f'{split}_dataloader.dataset.data_root={root}'
                for split in ('train', 'val', 'test')] + list(extra)


def test_train_with_pairs_and_two_process_torchrun_give_the_same_weights(benchmark, tmp_path,
                                                                         monkeypatch):
    skip_runner_env_and_config_text(monkeypatch)  # the 1-process run (torchrun's: its own)
    log, a = train_in_one_and_two_processes(CONFIG, str(tmp_path), options(benchmark, 4, 2),
                                            options(benchmark, 2, 2), master_port=29581,
                                            checkpoint='epoch_2.pth')
    for key in ('loss_basic', 'loss_co_att', 'loss_contrast', 'loss_self_basic',
                'loss_self_co_att'):
        assert f'{key}: ' in log, key
    # epoch 1 (0-based 0) is the warm-up: no contrastive term; epoch 2 has it
    first = [line for line in log.splitlines() if 'Epoch(train) [1]' in line and 'loss' in line]
    second = [line for line in log.splitlines() if 'Epoch(train) [2]' in line and 'loss' in line]
    assert first and all('loss_contrast: 0.0000' in line for line in first)
    assert second and not all('loss_contrast: 0.0000' in line for line in second)
    assert 'head.affinity.weight' in a and 'head.co_classifier.weight' in a


@pytest.mark.filterwarnings('ignore:.*single training image')
def test_the_hook_rejects_a_plain_dataset_and_warns_about_a_plain_sampler(benchmark):
    from types import SimpleNamespace

    from mmengine.dataset import DefaultSampler

    from wsss_toolbox.datasets import ClassPairSampler, ImageGroupDataset, SyntheticWSSSDataset
    from wsss_toolbox.methods.mcis import MCISTrainingHook
    hook = MCISTrainingHook()
    images = SyntheticWSSSDataset(data_root=benchmark, split='train', pipeline=[])
    plain = SimpleNamespace(train_dataloader=SimpleNamespace(
        dataset=images, sampler=DefaultSampler(images, shuffle=False)))
    with pytest.raises(TypeError, match='train_dataloader.dataset is SyntheticWSSSDataset'):
        hook.before_train(plain)
    pairs = ImageGroupDataset(dict(type='SyntheticWSSSDataset', data_root=benchmark,
                                   split='train', pipeline=[]))
    fixed = SimpleNamespace(train_dataloader=SimpleNamespace(
        dataset=pairs, sampler=DefaultSampler(pairs, shuffle=False)))
    with pytest.warns(UserWarning, match='train_dataloader.sampler is DefaultSampler'):
        hook.before_train(fixed)
    good = SimpleNamespace(train_dataloader=SimpleNamespace(
        dataset=pairs, sampler=ClassPairSampler(pairs, seed=0)))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        labels = pairs.label_matrix()
        if (labels.sum(0) == 1).any():  # a class of one image: the one allowed warning
            with pytest.warns(UserWarning, match='single training image'):
                hook.before_train(good)
        else:
            hook.before_train(good)
