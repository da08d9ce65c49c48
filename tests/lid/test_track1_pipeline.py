"""LID 2020 track 1 end to end on a tiny ILSVRC-LID-200-layout folder (the 200-class list, a
200-way head, images of three classes): stage 1 on the DET XML labels, maps and pseudo
labels, a stage-3 segmentor on the LID stage-3 dataset, the leaderboard's three metrics side
by side, the result files of the test split written and read back, and the parameter rule in
the summary and in tools/test.py."""
import json
import os.path as osp

import pytest
from tiny_benchmark import skip_runner_env_and_config_text
from tool_runs import run_main, run_ok

from lid.lid_layouts import (
    LID_CLASSES,
    NO_WORKERS,
    REPO,
    tiny_classifier_lines,
    write_lid200,
    write_lines,
)
from wsss_toolbox.pipeline.lid_steps import read_segmentation_results

STAGE3 = osp.join(REPO, 'configs/lid/deeplab-largefov_r101_1xb10-40k_lid200-pseudo-321x321.py')
LOADER = 'dict(num_workers=0, persistent_workers=False, batch_size={})'


def tiny_segmentor_lines():
    return [
        f'_base_ = [{STAGE3!r}]',
        f'num_classes = {LID_CLASSES + 1}',
        "model = dict(pretrained=None, data_preprocessor=dict(size=(32, 32)), "
        "backbone=dict(_delete_=True, type='TinyConvNet', base_channels=8, out_indices=(3, )),"
        " decode_head=dict(in_channels=32, channels=16, dilation=2, "
        f"num_classes={LID_CLASSES + 1}))",
        "train_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), "
        "dict(type='PackSegInputs')]",
        f'train_dataloader = dict({LOADER.format(4)[5:-1]}, dataset=dict(pipeline=train_pipeline))',
        f'val_dataloader = {LOADER.format(1)}',
        f'test_dataloader = {LOADER.format(1)}',
        "train_cfg = dict(max_iters=4, val_interval=4)",
        "param_scheduler = [dict(type='PolyLR', power=0.9, begin=0, end=4, by_epoch=False)]",
        "default_hooks = dict(checkpoint=dict(interval=4))",
    ]


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp('lid200')
    data_root = write_lid200(str(root / 'data'))
    stage1 = write_lines(root / 'stage1.py', tiny_classifier_lines(
        osp.join(REPO, 'configs/lid/cam_vgg16_1xb16-10e_lid200-224x224.py'), LID_CLASSES) + [
        "train_pipeline = [dict(type='LoadImageWithCheck'), dict(type='PackWSSSInputs')]",
        # a second assignment in one file replaces the first: the loader options again (the
        # config's 4 persistent workers take ~10 s to stop when the pipeline's loader is freed)
        f"train_dataloader = dict({NO_WORKERS[5:-1]}, dataset=dict(pipeline=train_pipeline))",
    ])
    stage3 = write_lines(root / 'stage3.py', tiny_segmentor_lines())
    pipeline = write_lines(root / 'pipeline.py', [
        f"_base_ = [{osp.join(REPO, 'configs/pipelines/cam_lid200.py')!r}]",
        f'data_root = {data_root!r}',
        f'stage1 = dict(config={stage1!r})',
        'maps = dict(scales=(1.0, ))',
        'pseudo_labels = dict(nproc=1)',
        f'stage3 = dict(config={stage3!r})',
        'summary = dict(report=False)',  # tests/visualization checks the report
    ])
    work_dir = str(root / 'work')
    with pytest.MonkeyPatch.context() as monkeypatch:
        skip_runner_env_and_config_text(monkeypatch)
        log = run_ok('pipeline', [pipeline, '--work-dir', work_dir, '--verbose'])
    return work_dir, data_root, stage3, log


def test_metrics_side_by_side_and_parameter_rule(finished):
    work_dir, _, _, log = finished
    with open(osp.join(work_dir, 'summary.json')) as f:
        summary = json.load(f)
    rows = {row['kind']: row for row in summary['rows']}
    assert {'segmentor', 'segmentor_mAcc', 'segmentor_aAcc', 'result_files'} <= set(rows)
    metrics = summary['steps']['val']['metrics']
    assert rows['segmentor']['mIoU'] == metrics['mIoU']
    assert rows['segmentor_mAcc']['value'] == metrics['mAcc']
    assert rows['segmentor_aAcc']['value'] == metrics['aAcc']
    assert all(0 <= metrics[key] <= 100 for key in ('mIoU', 'mAcc', 'aAcc'))
    model = summary['inference_model']
    assert model['step'] == 'stage3' and model['within_limit'] and 0 < model['parameters'] < 1e6
    assert 'LID 2020 rule: < 150 M: ok' in log and 'pixel accuracy' in log


def test_result_files_of_the_test_split(finished):
    work_dir, data_root, _, _ = finished
    folder = osp.join(work_dir, 'test_results')
    with open(osp.join(data_root, 'LID/track1/test.txt')) as f:
        ids = [line.split()[0] for line in f if line.strip()]
    with open(osp.join(folder, 'classes.txt')) as f:
        classes = f.read().split()
    with open(osp.join(data_root, 'LID/classes.txt')) as f:
        assert classes == ['background'] + f.read().split()  # the dataset's class order
    results = read_segmentation_results(folder, ids, len(classes))
    assert len(classes) == LID_CLASSES + 1
    assert len(results) == 3 and all(mask.shape == (32, 32) for mask in results.values())
    assert 'k + 1 = foreground class k' in open(osp.join(folder, 'README.txt')).read()
    with pytest.raises(FileNotFoundError, match='missing'):
        read_segmentation_results(folder, ids + ['not_an_image'], len(classes))
    with pytest.raises(ValueError, match='not a class index'):
        read_segmentation_results(folder, ids, 1 if any(m.max() for m in results.values())
                                  else 0)


def test_tools_test_reports_and_enforces_the_parameter_rule(finished):
    work_dir, data_root, stage3, _ = finished
    checkpoint = osp.join(work_dir, 'stage3', 'iter_4.pth')
    status, output = run_main('test', [
        stage3, checkpoint, '--work-dir', osp.join(work_dir, 'tool_test'), '--max-params',
        '1000', '--cfg-options', f'test_dataloader.dataset.data_root={data_root}'])
    assert status != 0
    assert 'not fewer than --max-params 1,000' in output
    assert 'tested model:' in output
