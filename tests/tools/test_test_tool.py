"""tools/test.py --show-dir (stage 1 and stage 3), and mmseg's own entry points on our stage-3
configs: mmseg's tools/test.py flow, MMSegInferencer, init_model / inference_model -- each in
a process that never imported wsss_toolbox (forked, one after the other, from one fresh
interpreter that imported torch / mmengine / mmseg only: one interpreter start, not three).

tools/train.py and tools/test.py run here through their ``main`` (tests/tool_runs.py); their
command lines run as a user types them in tests/packaging/test_mim_commands.py (``mim train`` /
``mim test`` start them as scripts from a folder without configs/ or tools/)."""
import glob
import json
import os
import os.path as osp
import runpy
import subprocess

import mmcv
import numpy as np
import pytest
from conftest import PYTHON, REPO_ROOT, run_tool
from mmengine.config import Config
from tool_runs import run_ok

STAGE1 = osp.join('configs', 'cam', 'cam_tiny_1xb16-8e_synthetic-128x128.py')
STAGE3 = osp.join('configs', 'deeplab',
                  'deeplab-largefov_tiny_1xb8-600it_synthetic-pseudo-128x128.py')
SIZE = 64


@pytest.fixture(scope='module')
def synthetic(tmp_path_factory):
    """A tiny synthetic benchmark (4 train, 2 val images of 64x64) + 'pseudo labels' (the
    ground truth) of its train images."""
    from wsss_toolbox.datasets.synthetic_benchmark import generate_synthetic_benchmark
    base = tmp_path_factory.mktemp('show')
    root = str(base / 'synthetic')
    generate_synthetic_benchmark(root, num_train=4, num_val=2, image_size=SIZE)
    pseudo_dir = str(base / 'pseudo_labels')
    with open(osp.join(root, 'ImageSets', 'Segmentation', 'train.txt')) as f:
        for img_id in f.read().split():
            label = mmcv.imread(osp.join(root, 'SegmentationClass', f'{img_id}.png'),
                                flag='unchanged')
            mmcv.imwrite(label, osp.join(pseudo_dir, f'{img_id}.png'))
    return dict(root=root, pseudo_dir=pseudo_dir, base=base)


def data_options(data: dict) -> list:
    """--cfg-options values: every split on the tiny benchmark, no worker processes."""
    options = [f'train_dataloader.dataset.pseudo_label_dir={data["pseudo_dir"]}']
    for split in ('train', 'val', 'test'):
        options += [f'{split}_dataloader.dataset.data_root={data["root"]}',
                    f'{split}_dataloader.num_workers=0',
                    f'{split}_dataloader.persistent_workers=False']
    return options


@pytest.fixture(scope='module')
def stage3_checkpoint(synthetic):
    """The tiny DeepLab trained for 2 iterations with tools/train.py (a real checkpoint, with
    the dataset's classes and palette in its meta)."""
    work_dir = str(synthetic['base'] / 'stage3')
    run_ok('train', [STAGE3, '--work-dir', work_dir, '--cfg-options']
           + data_options(synthetic)
           + ['train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'param_scheduler.0.end=2',
              'default_hooks.checkpoint.interval=2', 'train_dataloader.batch_size=2'])
    return osp.join(work_dir, 'iter_2.pth')


@pytest.fixture(scope='module')
def stage1_checkpoint(synthetic):
    """Random weights of the tiny CAM classifier, saved as mmengine does."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from wsss_toolbox.registry import MODELS
    from wsss_toolbox.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(osp.join(REPO_ROOT, STAGE1))
    with DefaultScope.overwrite_default_scope('wsss_toolbox'):
        model = MODELS.build(cfg.model)
    path = str(synthetic['base'] / 'stage1.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


def painted(show_dir: str) -> dict:
    files = sorted(glob.glob(osp.join(show_dir, 'vis_data', 'vis_image', '*.png')))
    return {osp.basename(path): mmcv.imread(path, channel_order='rgb') for path in files}


def val_ids(data: dict) -> list:
    with open(osp.join(data['root'], 'ImageSets', 'Segmentation', 'val.txt')) as f:
        return f.read().split()


def test_show_dir_paints_every_image_of_a_segmentor(synthetic, stage3_checkpoint, tmp_path):
    show_dir = str(tmp_path / 'show')
    output = run_ok('test', [STAGE3, stage3_checkpoint, '--work-dir', str(tmp_path / 'work'),
                             '--show-dir', show_dir, '--cfg-options'] + data_options(synthetic))
    assert 'mIoU' in output
    images = painted(show_dir)
    # mmseg's SegVisualizationHook names: <mode>_<image file>_<step>.png
    assert sorted(images) == [f'test_{img_id}.jpg_0.png' for img_id in val_ids(synthetic)]
    for image in images.values():
        assert image.shape == (SIZE, 2 * SIZE, 3)  # ground truth | prediction


def test_show_dir_paints_the_maps_of_each_class_of_a_classifier(synthetic, stage1_checkpoint,
                                                                   tmp_path):
    show_dir = str(tmp_path / 'show')
    run_ok('test', [STAGE1, stage1_checkpoint, '--work-dir', str(tmp_path / 'work'),
                    '--show-dir', show_dir, '--cfg-options'] + data_options(synthetic))
    images = painted(show_dir)
    ids = val_ids(synthetic)
    assert sorted(images) == [f'test_{img_id}.jpg_0.png' for img_id in ids]
    with open(osp.join(synthetic['root'], 'cls_labels.txt')) as f:
        tags = {line.split()[0]: line.split()[1:] for line in f if line.strip()}
    for img_id in ids:
        image = images[f'test_{img_id}.jpg_0.png']
        # image | ground truth | one localization map per tag of the image
        assert image.shape == (SIZE, (2 + len(tags[img_id])) * SIZE, 3)
        original = mmcv.imread(osp.join(synthetic['root'], 'JPEGImages', f'{img_id}.jpg'),
                               channel_order='rgb')
        np.testing.assert_array_equal(image[:, :SIZE], original)
        assert not np.array_equal(image[:, 2 * SIZE:3 * SIZE], original)  # a heat map on it


def test_show_dir_refuses_a_visualizer_that_paints_nothing(synthetic, stage1_checkpoint,
                                                           tmp_path):
    # a process of its own: in the test process mmengine hands back the visualizer instance
    # of an earlier run started in the same second (instances are kept by name)
    proc = subprocess.run(
        [PYTHON, 'tools/test.py', STAGE1, stage1_checkpoint, '--work-dir', str(tmp_path),
         '--show-dir', str(tmp_path / 'show'), '--cfg-options', 'visualizer.type=Visualizer']
        + data_options(synthetic), cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS='1'))
    status, output = proc.returncode, proc.stdout + proc.stderr
    assert status != 0
    assert 'paints nothing' in output and 'MapLocalVisualizer' in output


def test_out_on_a_classifier_writes_the_image_label_results(synthetic, stage1_checkpoint,
                                                            tmp_path):
    # before: MultiLabelMetric.__init__() got an unexpected keyword argument 'output_dir'
    out = str(tmp_path / 'out')
    output = run_ok('test', [STAGE1, stage1_checkpoint, '--work-dir', str(tmp_path / 'work'),
                             '--out', out, '--cfg-options'] + data_options(synthetic))
    assert 'cls/mAP' in output
    with open(osp.join(out, 'image_label_results.json')) as f:
        results = json.load(f)
    assert sorted(results['metrics']) == ['F1', 'mAP', 'precision', 'recall']
    assert [osp.basename(image['img_path']) for image in results['images']] == [
        f'{img_id}.jpg' for img_id in val_ids(synthetic)]
    assert all(len(image['pred_scores']) == len(results['classes'])
               for image in results['images'])


def test_out_names_a_metric_that_cannot_write_results(tmp_path):
    from mmengine.evaluator import BaseMetric

    from wsss_toolbox.registry import METRICS
    set_output_dir = runpy.run_path(osp.join(REPO_ROOT, 'tools', 'test.py'))['set_output_dir']

    class NoOutputMetric(BaseMetric):
        def process(self, data_batch, data_samples):
            pass

        def compute_metrics(self, results):
            return {}

    METRICS.register_module(module=NoOutputMetric, force=True)
    cfg = Config(dict(default_scope='wsss_toolbox',
                      test_evaluator=dict(type='NoOutputMetric')))
    try:
        with pytest.raises(ValueError, match="test metric 'NoOutputMetric' of c.py takes no "
                           'output_dir'):
            set_output_dir(cfg, str(tmp_path), 'c.py')
    finally:
        METRICS.module_dict.pop('NoOutputMetric')
    cfg.test_evaluator = [dict(type='IoUMetric'), dict(type='ImageLabelMetric')]
    set_output_dir(cfg, str(tmp_path), 'c.py')
    # mmseg's IoUMetric takes **kwargs (keep_results, as mmseg's tools/test.py sets it)
    assert cfg.test_evaluator == [
        dict(type='IoUMetric', output_dir=str(tmp_path), keep_results=True),
        dict(type='ImageLabelMetric', output_dir=str(tmp_path))]


# mmseg 1.2.2's tools/test.py (not installed with the wheel), its flow verbatim:
# Config.fromfile -> cfg options -> work_dir -> load_from -> trigger_visualization_hook ->
# Runner.from_cfg(cfg).test(). Nothing of wsss_toolbox is imported or registered by hand:
# the config's custom_imports and default_scope do it.
MMSEG_TEST_SCRIPT = '''
import argparse
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--work-dir')
    parser.add_argument('--show-dir')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def trigger_visualization_hook(cfg, args):
    default_hooks = cfg.default_hooks
    if 'visualization' in default_hooks:
        visualization_hook = default_hooks['visualization']
        # Turn on visualization
        visualization_hook['draw'] = True
        if args.show_dir:
            visualizer = cfg.visualizer
            visualizer['save_dir'] = args.show_dir
    else:
        raise RuntimeError('VisualizationHook must be included in default_hooks.')
    return cfg


args = parse_args()
cfg = Config.fromfile(args.config)
cfg.launcher = 'none'
if args.cfg_options is not None:
    cfg.merge_from_dict(args.cfg_options)
if args.work_dir is not None:
    cfg.work_dir = args.work_dir
elif cfg.get('work_dir', None) is None:
    cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
cfg.load_from = args.checkpoint
if args.show_dir:
    cfg = trigger_visualization_hook(cfg, args)
runner = Runner.from_cfg(cfg)
metrics = runner.test()
print('METRICS', sorted(metrics))
'''


INFERENCER_SCRIPT = '''
import sys
import numpy as np
from mmseg.apis import MMSegInferencer

config, checkpoint, image, out_dir = sys.argv[1:5]
# our configs build under the wsss_toolbox scope (mmseg's default scope 'mmseg' does not know
# CRFEncoderDecoder, TinyConvNet, ...)
inferencer = MMSegInferencer(model=config, weights=checkpoint, device='cpu',
                             scope='wsss_toolbox')
result = inferencer(image, out_dir=out_dir, return_datasamples=True)
pred = result.pred_sem_seg.data.numpy()
print('PRED', pred.shape, int(pred.max()) < len(inferencer.model.dataset_meta['classes']))
'''


INIT_MODEL_SCRIPT = '''
import sys
from mmseg.apis import inference_model, init_model

config, checkpoint, image = sys.argv[1:4]
model = init_model(config, checkpoint, device='cpu')
result = inference_model(model, image)
print('MODEL', type(model).__name__, 'PRED', tuple(result.pred_sem_seg.shape),
      len(model.dataset_meta['classes']))
'''


# Runs the scripts above one after the other, each in a child forked from this interpreter,
# which has imported the heavy packages the scripts start with but nothing of wsss_toolbox
# (checked before each script: its config's custom_imports and scope must bring it in).
FORK_DRIVER = '''
import json
import os
import sys
import traceback

import mmengine.config  # noqa: F401  (shared by the forked children)
import mmengine.runner  # noqa: F401
import mmseg.apis  # noqa: F401

for name, script, argv, log in json.loads(sys.argv[1]):
    pid = os.fork()
    if pid == 0:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        status = 0
        try:
            assert 'wsss_toolbox' not in sys.modules, 'wsss_toolbox imported before the script'
            sys.argv = ['-c'] + argv
            exec(compile(script, name, 'exec'), {'__name__': '__main__'})
        except SystemExit as error:
            status = error.code if isinstance(error.code, int) else 1
        except BaseException:
            traceback.print_exc()
            status = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    print(name, os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
'''


@pytest.fixture(scope='module')
def mmseg_runs(synthetic, stage3_checkpoint) -> dict:
    """``{script: (exit status, output, out folder)}`` of the three mmseg scripts, run once."""
    base = synthetic['base'] / 'mmseg'
    image = osp.join(synthetic['root'], 'JPEGImages', f'{val_ids(synthetic)[0]}.jpg')
    jobs = dict(
        test_flow=(MMSEG_TEST_SCRIPT, [STAGE3, stage3_checkpoint, '--work-dir',
                                       str(base / 'work'), '--show-dir', str(base / 'show'),
                                       '--cfg-options'] + data_options(synthetic)),
        inferencer=(INFERENCER_SCRIPT, [STAGE3, stage3_checkpoint, image,
                                        str(base / 'out')]),
        init_model=(INIT_MODEL_SCRIPT, [STAGE3, stage3_checkpoint, image]))
    base.mkdir()
    spec = [[name, script, argv, str(base / f'{name}.log')]
            for name, (script, argv) in jobs.items()]
    proc = run_tool([PYTHON, '-c', FORK_DRIVER, json.dumps(spec)])
    statuses = dict(line.split() for line in proc.stdout.splitlines() if line.strip())
    runs = {}
    for name, _, _, log in spec:
        with open(log) as f:
            runs[name] = (int(statuses[name]), f.read(), base)
    return runs


def script_output(runs: dict, name: str) -> str:
    """The output of one script, which must have exited 0."""
    status, output, _ = runs[name]
    assert status == 0, f'{name} failed ({status}):\n{output[-5000:]}'
    return output


def test_mmseg_test_flow_runs_a_stage3_config_as_is(synthetic, mmseg_runs):
    """mmseg's own flow needs the training data too: its SegVisualizationHook reads
    `runner.iter`, which builds the training loop (tools/test.py drops the training part)."""
    output = script_output(mmseg_runs, 'test_flow')
    assert "METRICS ['aAcc', 'mAcc', 'mIoU']" in output
    show_dir = str(mmseg_runs['test_flow'][2] / 'show')
    assert len(painted(show_dir)) == len(val_ids(synthetic))


def test_mmseg_inferencer_on_a_stage3_config(mmseg_runs):
    output = script_output(mmseg_runs, 'inferencer')
    assert f'PRED (1, {SIZE}, {SIZE}) True' in output
    out_dir = str(mmseg_runs['inferencer'][2] / 'out')
    assert glob.glob(osp.join(out_dir, 'vis', '*.jpg')) or glob.glob(
        osp.join(out_dir, 'vis', '*.png'))  # painted by the config's SegLocalVisualizer


def test_mmseg_init_model_and_inference_model_on_a_stage3_config(synthetic, mmseg_runs):
    output = script_output(mmseg_runs, 'init_model')
    with open(osp.join(synthetic['root'], 'classes.txt')) as f:
        num_classes = 1 + len(f.read().split())
    assert f'MODEL CRFEncoderDecoder PRED ({SIZE}, {SIZE}) {num_classes}' in output
