"""RPNet in a real run: tools/train.py on pairs (with the warning about classes that have
fewer images than the group size), and the group-size check on its own."""
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
from tool_runs import run_ok

from wsss_toolbox.engine import load_local_checkpoint
from wsss_toolbox.methods.rpnet import GroupSizeCheckHook
from wsss_toolbox.methods.rpnet.hooks import classes_smaller_than

CONFIG = osp.join('configs', 'rpnet', 'rpnet_tiny_1xb8-4e_synthetic-128x128.py')


@pytest.fixture(scope='module')
def benchmark(tmp_path_factory) -> str:
    from wsss_toolbox.datasets.synthetic_benchmark import generate_synthetic_benchmark
    root = str(tmp_path_factory.mktemp('rpnet_synthetic'))
    generate_synthetic_benchmark(root, num_train=8, num_val=2, image_size=32, seed=1)
    return root


def options(root, batch_size):
    return ['--cfg-options', 'train_cfg.max_epochs=1', f'train_dataloader.batch_size={batch_size}',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
            'train_cfg.val_interval=100', 'default_hooks.logger.interval=1',
            'model.backbone.base_channels=8', 'model.head.in_channels=32',
            'model.head.channels=16', f'train_dataloader.dataset.data_root={root}'] + [
                f'{split}_dataloader.dataset.data_root={root}' for split in ('val', 'test')]


# The 1-process == 2-process check of training runs for MCIS (test_mcis_training.py): the
# same ClassPairSampler over ranks (its rank split: tests/datasets/test_sampler.py); RPNet
# has no distributed code of its own.
def test_train_on_pairs_logs_the_losses_and_warns_once(benchmark, tmp_path):
    work_dir = str(tmp_path / 'work')
    log = run_ok('train', [CONFIG, '--work-dir', work_dir] + options(benchmark, 4))
    assert 'loss_cls: ' in log and 'loss_similarity: ' in log and 'confident_coverage' in log
    # 8 images: some classes have a single image, fewer than the group size 2 -- one warning
    assert log.count('is larger than the number of training images of class(es)') == 1
    weights = load_local_checkpoint(osp.join(work_dir, 'epoch_1.pth'))['state_dict']
    assert {'head.projection.weight', 'head.classifiers.1.weight'} <= set(weights)


def fake_runner(labels, group_size, classes):
    dataset = SimpleNamespace(metainfo=dict(classes=classes), label_matrix=lambda: labels)
    loader = SimpleNamespace(sampler=SimpleNamespace(group_size=group_size), dataset=dataset)
    return SimpleNamespace(train_dataloader=loader)


def test_group_size_check_names_the_small_classes():
    labels = np.array([[1, 0, 0], [1, 1, 0], [1, 0, 0]], bool)  # cat: 3, dog: 1, bird: 0
    assert classes_smaller_than(labels, 2, ['cat', 'dog', 'bird']) == ['dog (1 image)']
    assert classes_smaller_than(labels, 4, ['cat', 'dog', 'bird']) == [
        'cat (3 images)', 'dog (1 image)']
    with pytest.raises(ValueError, match=r'Group size 4 .* cat \(3 images\), dog \(1 image\)'):
        GroupSizeCheckHook(strict=True).before_train(
            fake_runner(labels, 4, ['cat', 'dog', 'bird']))
    # group size 1 or classes large enough: nothing to say
    GroupSizeCheckHook(strict=True).before_train(fake_runner(labels, 1, ['cat', 'dog', 'bird']))
    GroupSizeCheckHook(strict=True).before_train(
        fake_runner(labels[:, :1], 3, ['cat']))
