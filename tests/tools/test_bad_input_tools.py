"""Bad inputs through the command-line tools: each stops with an error that names the file
and says what to fix, and writes nothing wrong (map files with NaN/inf, another image's map
file, classes the image is not tagged with; a checkpoint of another model, a file that is no
checkpoint).

The tools run here through their ``main`` (tests/tool_runs.py): an error reaches the user the
same way (its message, a non-zero exit). Their command lines run as a user types them in
tests/test_readme.py."""
import os
import os.path as osp
import re
import shutil

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT
from mmengine.config import Config
from tiny_benchmark import (
    rewrite_map_file,
    write_gt_maps,
    write_stage2_config,
    write_tiny_benchmark,
)
from tool_runs import run_main, run_ok

from wsss_toolbox.maps import map_path

STAGE1 = osp.join(REPO_ROOT, 'configs', 'cam', 'cam_tiny_1xb16-8e_synthetic-128x128.py')


def run_failing(name: str, argv: list) -> str:
    """Run tools/<name>.py's ``main(argv)``, which must fail; return its output."""
    status, output = run_main(name, argv)
    assert status != 0, f'tools/{name}.py {" ".join(argv)} exited 0:\n{output[-3000:]}'
    return output


@pytest.fixture(scope='module')
def bench(tmp_path_factory):
    """The tiny benchmark, good map files of its training images, a stage-2 config."""
    root = str(tmp_path_factory.mktemp('bench'))
    write_tiny_benchmark(root)
    write_gt_maps(root, osp.join(root, 'maps'))
    return root


def bad_maps(bench, tmp_path, **changes) -> str:
    """A copy of the good map folder whose train_00000.npz (classes [0, 1]) is rewritten."""
    map_dir = str(tmp_path / 'maps')
    shutil.copytree(osp.join(bench, 'maps'), map_dir)
    rewrite_map_file(map_path(map_dir, 'train_00000'), **changes)
    return map_dir


def maps_with(value, rows=slice(None)):
    maps = np.full((2, 32, 32), 0.5, np.float16)
    maps[0, rows] = value
    return maps


@pytest.mark.parametrize('changes, message', [
    # before: the NaN half of the image was labelled as class 0, exit 0
    (dict(maps=maps_with(np.nan, slice(16))), r'maps contain 512 NaN value\(s\)'),
    # before: maps of a class the image does not have became labels of it, exit 0
    (dict(classes=np.array([0, 2])), r'holds maps of class\(es\) \[2\], but image '
                                     r'"train_00000" is tagged only with \[0, 1\]'),
])
def test_make_pseudo_labels_stops_on_a_bad_map_file(bench, tmp_path, changes, message):
    map_dir = bad_maps(bench, tmp_path, **changes)
    label_dir = str(tmp_path / 'labels')
    config = write_stage2_config(str(tmp_path / 'stage2.py'), bench, map_dir, label_dir)
    stderr = run_failing('make_pseudo_labels', [config])
    assert f'Map file "{map_path(map_dir, "train_00000")}"' in stderr
    assert 'regenerate' in stderr
    assert len(re.findall(message, stderr)) == 1, stderr[-2000:]
    assert not osp.exists(osp.join(label_dir, 'train_00000.png'))


@pytest.mark.parametrize('changes, message', [
    # before: a crash deep in the confusion matrix ("'list' argument must have no negative
    # elements") that named no file
    (dict(maps=maps_with(np.inf)), r'maps contain 1024 inf value'),
    # before: another image's maps were scored against this image's ground truth, exit 0
    (dict(img_id=np.array('train_00001')), r'belongs to image "train_00001", not '
                                           r'"train_00000"'),
])
def test_eval_maps_stops_on_a_bad_map_file(bench, tmp_path, changes, message):
    map_dir = bad_maps(bench, tmp_path, **changes)
    config = write_stage2_config(str(tmp_path / 'stage2.py'), bench, map_dir,
                                 str(tmp_path / 'labels'))
    out_json = str(tmp_path / 'eval.json')
    stderr = run_failing('eval_maps', [map_dir, '--config', config, '--out-json', out_json])
    assert map_path(map_dir, 'train_00000') in stderr
    assert re.search(message, stderr), stderr[-2000:]
    assert not osp.exists(out_json)


# ------------------------------------------------------------------ stage-1 checkpoints
@pytest.fixture(scope='module')
def stage1(bench, tmp_path_factory):
    """A 3-class stage-1 config on the benchmark, a checkpoint of its model and one of a
    narrower backbone (another architecture)."""
    from wsss_toolbox.registry import MODELS
    from wsss_toolbox.utils import register_all_modules
    folder = tmp_path_factory.mktemp('stage1')
    config = str(folder / 'stage1.py')
    with open(config, 'w') as f:
        f.write(f'_base_ = [{STAGE1!r}]\n'
                'model = dict(head=dict(num_classes=3))\n'
                f"train_dataloader = dict(dataset=dict(data_root={bench!r}))\n"
                "map_inference = dict(scales=(1.0, ), flip=False)\n")
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(config)
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict()), str(folder / 'good.pth'))
    cfg.model.backbone.base_channels = 16
    cfg.model.head.in_channels = 64
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict()),
               str(folder / 'other_model.pth'))
    return config, str(folder)


def test_infer_maps_refuses_a_checkpoint_of_another_model(stage1, tmp_path):
    config, folder = stage1
    checkpoint = osp.join(folder, 'other_model.pth')
    out_dir = str(tmp_path / 'maps')
    # before: a warning about size mismatches, then maps of mostly random weights, exit 0
    stderr = run_failing('infer_maps', [config, checkpoint, '--out-dir', out_dir])
    assert f'Checkpoint file "{checkpoint}" does not fit the model of {config}' in stderr
    assert ('41 weight(s) have another shape: backbone.stages.0.0.conv.weight [16, 3, 3, 3] '
            "vs the model's [32, 3, 3, 3]") in stderr
    assert '--partial-load' in stderr
    assert not osp.isdir(out_dir) or not os.listdir(out_dir)
    # asked for, a partial load runs and says what it left out
    output = run_ok('infer_maps', [config, checkpoint, '--out-dir', out_dir, '--partial-load'])
    assert 'partial load of checkpoint' in output
    assert re.search(r'maps written\s*\|\s*6\s*\|', output)  # the summary table


def test_infer_maps_names_an_unreadable_checkpoint(stage1, tmp_path):
    # more kinds of unreadable files: tests/engine/test_checkpoint.py
    config, _ = stage1
    checkpoint = str(tmp_path / 'weights.pth')
    with open(checkpoint, 'wb') as f:
        f.write(np.random.default_rng(0).bytes(3000))
    # before: torch's unpickling error ("Unsupported operand ..."), suggesting weights_only=False
    stderr = run_failing('infer_maps', [config, checkpoint, '--out-dir',
                                        str(tmp_path / 'maps')])
    assert (f'Checkpoint file "{checkpoint}" is unreadable: it is not a PyTorch checkpoint, '
            'or it is truncated or corrupt') in stderr
    assert 'weights_only' not in stderr.splitlines()[-1]
