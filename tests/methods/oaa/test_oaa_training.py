"""The recorder and the drop layer in real training runs (tools/train.py's ``main`` in this
process; torchrun for 2 processes): the exported maps, 2-process torchrun == 1 process (the
recorder exchanges its updates between ranks), interrupted + resumed == uninterrupted."""
import os
import os.path as osp

import numpy as np
import pytest
from conftest import PYTHON, run_tool
from tiny_benchmark import skip_runner_env_and_config_text
from tool_runs import run_ok

from wsss_toolbox.engine import load_local_checkpoint
from wsss_toolbox.maps import load_maps
from wsss_toolbox.methods.oaa.store import CumulativeMapStore

CONFIG = osp.join('configs', 'oaa', 'oaa-drop_tiny_1xb16-8e_synthetic-128x128.py')
NUM_TRAIN = 8


@pytest.fixture(scope='module')
def benchmark(tmp_path_factory) -> str:
    from wsss_toolbox.datasets.synthetic_benchmark import generate_synthetic_benchmark
    root = str(tmp_path_factory.mktemp('oaa_synthetic'))
    generate_synthetic_benchmark(root, num_train=NUM_TRAIN, num_val=2, image_size=32, seed=1)
    return root


def options(root, epochs=3, batch_size=4, *extra):
    return ['--cfg-options', f'train_cfg.max_epochs={epochs}',
            f'train_dataloader.batch_size={batch_size}', 'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
            'val_dataloader.persistent_workers=False', 'train_cfg.val_interval=100',
            'train_dataloader.sampler.shuffle=True', 'custom_hooks.1.drop_prob=0.7',
            'default_hooks.logger.interval=1'] + [
                f'{split}_dataloader.dataset.data_root={root}'
                for split in ('train', 'val', 'test')] + list(extra)


def stored(work_dir, epoch) -> CumulativeMapStore:
    checkpoint = load_local_checkpoint(osp.join(work_dir, f'epoch_{epoch}.pth'))
    return CumulativeMapStore.from_state_dict(checkpoint['wsss_cumulative_maps'])


def assert_same_stores(a: CumulativeMapStore, b: CumulativeMapStore, tolerance: int = 0):
    assert sorted(a.img_ids()) == sorted(b.img_ids())
    sa, sb = a.state_dict(), b.state_dict()
    for img_id in a.img_ids():
        x, y = sa['entries'][img_id], sb['entries'][img_id]
        np.testing.assert_array_equal(x['counts'], y['counts'], err_msg=img_id)
        assert x['visits'] == y['visits'] and x['last_stamp'] == y['last_stamp']
        for key in ('values', 'last'):
            diff = np.abs(x[key].astype(int) - y[key].astype(int))
            assert diff.max() <= tolerance, (img_id, key, diff.max())


# frozen weights (lr 0) and no BatchNorm: an image's attention no longer depends on the
# model's trajectory or on the other images of its batch, so 1 process with batch 4 and
# 2 processes with batch 2 must record the same maps. With the drop layer and the
# 'always' score rule, the maps still change from epoch to epoch (occluded inputs).
FROZEN = ['optim_wrapper.optimizer.lr=0', 'model.backbone.norm_cfg=None',
          'custom_hooks.0.score_rule=always']


def test_two_process_torchrun_records_the_same_maps_as_one_process(benchmark, tmp_path,
                                                                   monkeypatch):
    skip_runner_env_and_config_text(monkeypatch)  # the 1-process run (torchrun's: its own)
    single, double = str(tmp_path / 'single'), str(tmp_path / 'double')
    log = run_ok('train', [CONFIG, '--work-dir', single] + options(benchmark, 3, 4, *FROZEN))
    # the single-process run: one map file per training image, at the original size
    maps_dir = osp.join(single, 'cumulative_maps')
    assert len(os.listdir(maps_dir)) == NUM_TRAIN
    with open(osp.join(benchmark, 'cls_labels.txt')) as f:
        labels = dict(line.split(maxsplit=1) for line in f.read().splitlines())
    classes = open(osp.join(benchmark, 'classes.txt')).read().split()
    for name in os.listdir(maps_dir):
        record = load_maps(osp.join(maps_dir, name))
        expected = sorted(classes.index(c) for c in labels[record['img_id']].split())
        assert record['classes'].tolist() == expected
        assert record['maps'].shape[1:] == (32, 32) and record['maps'].max() <= 1
    assert 'attention_drop_images' in log
    reference = stored(single, 3)
    assert max(reference.counts(i).max() for i in reference.img_ids()) == 3
    drops = [int(line.split('attention_drop_images: ')[1].split()[0])
             for line in log.splitlines() if 'attention_drop_images: ' in line]
    assert sum(drops) > 0  # some inputs were occluded

    run_tool([PYTHON, '-m', 'torch.distributed.run', '--nproc_per_node=2',
              '--master_port=29561', 'tools/train.py', CONFIG, '--launcher', 'pytorch',
              '--work-dir', double] + options(benchmark, 3, 2, *FROZEN))
    # identical up to float rounding of the convolutions (one quantisation step)
    assert_same_stores(reference, stored(double, 3), tolerance=1)
    assert len(os.listdir(osp.join(double, 'cumulative_maps'))) == NUM_TRAIN  # both ranks


def test_interrupted_and_resumed_training_gives_the_same_maps(benchmark, tmp_path):
    """A run of 3 epochs, and a run that continues from the checkpoint of its epoch 2 (as
    after a crash right after that checkpoint): same store, same exported maps."""
    full, resumed = str(tmp_path / 'full'), str(tmp_path / 'resumed')
    run_ok('train', [CONFIG, '--work-dir', full] + options(benchmark, 3))
    log = run_ok('train', [CONFIG, '--work-dir', resumed, '--resume',
                           osp.join(full, 'epoch_2.pth')] + options(benchmark, 3))
    assert 'restored the cumulative maps of 8 images' in log
    assert 'resumed epoch: 2' in log
    uninterrupted = stored(full, 3)
    assert not uninterrupted.equals(stored(full, 2))  # epoch 3 changed the maps
    assert_same_stores(uninterrupted, stored(resumed, 3), tolerance=0)
    for name in os.listdir(osp.join(full, 'cumulative_maps')):
        a = load_maps(osp.join(full, 'cumulative_maps', name))['maps']
        b = load_maps(osp.join(resumed, 'cumulative_maps', name))['maps']
        np.testing.assert_array_equal(a, b)
