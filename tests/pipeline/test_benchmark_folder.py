"""A data_root that already holds a synthetic benchmark generated with other options is an
error naming the differences and the folder; before, the pipeline trained on it while its
records said the requested options."""
import os
import os.path as osp

import pytest
from mmengine.config import Config
from tiny_benchmark import write_tiny_benchmark

from wsss_toolbox.pipeline import PipelineConfigError, PipelineRunner


def runner_for(root: str, work_dir: str, **options) -> PipelineRunner:
    return PipelineRunner(Config(dict(data_root=root, synthetic_benchmark=options, steps=[])),
                          work_dir)


def test_another_benchmark_in_data_root_is_an_error(tmp_path):
    root = write_tiny_benchmark(str(tmp_path / 'data'))  # 6 + 2 images of 32 px, 3 classes
    runner = runner_for(root, str(tmp_path / 'work'), num_train=8, num_val=2, image_size=64,
                        num_classes=3, num_workers=1)
    for call in (runner.run, runner.plan):  # --list says so too
        with pytest.raises(PipelineConfigError) as error:
            call()
        message = str(error.value)
        assert f'data_root {root} holds a synthetic benchmark generated with other options' \
            in message
        assert 'image_size: 32 -> 64; num_train: 6 -> 8' in message  # on disk -> requested
        assert osp.join(root, 'benchmark.json') in message
        assert 'Use another data_root' in message and f'delete the folder {root}' in message
    with open(osp.join(root, 'ImageSets', 'Segmentation', 'train.txt')) as f:
        assert len(f.read().split()) == 6  # left as it was


def test_the_same_benchmark_is_used_as_it_is(tmp_path):
    root = write_tiny_benchmark(str(tmp_path / 'data'))
    summary = osp.join(root, 'benchmark.json')
    mtime = os.stat(summary).st_mtime_ns
    # the number of worker processes does not change the benchmark
    runner = runner_for(root, str(tmp_path / 'work'), num_train=6, num_val=2, image_size=32,
                        num_classes=3, num_workers=2)
    runner.run()
    assert os.stat(summary).st_mtime_ns == mtime  # not generated again
    # a variant's presets count as requested options: many-classes has 50 classes
    runner = runner_for(root, str(tmp_path / 'work'), num_train=6, num_val=2, image_size=32,
                        variant='many-classes')
    with pytest.raises(PipelineConfigError, match='num_classes: 3 -> 50'):
        runner.plan()
