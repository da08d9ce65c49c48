"""LID 2020 track 3 end to end on a tiny CLS-LOC-layout folder: the CLS-LOC dataset, the
track-3 winner's pipeline (TAP + clamping classifier, maps of the val images, Peak-IoU with the
max and the percentile references on 0/255 masks), the curve file and its figure."""
import json
import os.path as osp

import numpy as np
import pytest
from conftest import PYTHON, run_tool
from tiny_benchmark import skip_runner_env_and_config_text
from tool_runs import run_ok

from lid.lid_layouts import (
    NO_WORKERS,
    REPO,
    WNIDS,
    tiny_classifier_lines,
    write_clsloc,
    write_lines,
)
from wsss_toolbox.datasets import CLSLOCImageLabelDataset, DatasetFormatError


@pytest.fixture(scope='module')
def clsloc(tmp_path_factory):
    return write_clsloc(str(tmp_path_factory.mktemp('clsloc')))


def test_clsloc_dataset_reads_one_label_per_image(clsloc, tmp_path):
    train = CLSLOCImageLabelDataset(data_root=clsloc)
    assert train.metainfo['wnids'] == tuple(WNIDS)
    assert train.metainfo['classes'] == ('thing 0', 'thing 1', 'thing 2')
    info = train.get_data_info(0)
    wnid = osp.basename(osp.dirname(info['img_path']))
    assert info['gt_label'].sum() == 1 and info['gt_label'][WNIDS.index(wnid)] == 1
    assert info['img_id'].startswith(wnid + '_') and info['seg_map_path'] is None
    val = CLSLOCImageLabelDataset(data_root=clsloc, ann_file='LID/track3/val.txt',
                                  data_prefix=dict(img_path='Data/CLS-LOC/val',
                                                   seg_map_path='LID/track3/val'))
    assert all(val.get_data_info(i)['seg_map_path'] for i in range(len(val)))
    bad = write_lines(tmp_path / 'bad.txt', ['ILSVRC2012_val_x n00000000 n00000001'])
    with pytest.raises(DatasetFormatError, match='bad.txt, line 1: 2 labels'):
        CLSLOCImageLabelDataset(data_root=clsloc, ann_file=str(bad))
    bad = write_lines(tmp_path / 'unknown.txt', ['ILSVRC2012_val_x n99999999'])
    with pytest.raises(DatasetFormatError, match="unknown.txt, line 1: unknown class 'n9"):
        CLSLOCImageLabelDataset(data_root=clsloc, ann_file=str(bad))


def test_track3_pipeline_end_to_end(clsloc, tmp_path, monkeypatch):
    skip_runner_env_and_config_text(monkeypatch)
    stage1 = write_lines(tmp_path / 'stage1.py', tiny_classifier_lines(
        osp.join(REPO, 'configs/lid/cam-tap-clamp_vgg16_1xb32-6e_clsloc-224x224.py')) + [
        "train_pipeline = [dict(type='LoadImageWithCheck'), dict(type='PackWSSSInputs')]",
        # a second assignment in one file replaces the first: the loader options again (the
        # config's persistent workers take seconds to stop when the pipeline's loader is freed)
        f"train_dataloader = dict({NO_WORKERS[5:-1]}, dataset=dict(pipeline=train_pipeline))",
        "test_pipeline = [dict(type='LoadImageWithCheck'), dict(type='PackWSSSInputs')]",
        f"val_dataloader = dict({NO_WORKERS[5:-1]}, dataset=dict(pipeline=test_pipeline))",
    ])
    pipeline = write_lines(tmp_path / 'pipeline.py', [
        f"_base_ = [{osp.join(REPO, 'configs/pipelines/cam-track3-winner_clsloc.py')!r}]",
        f'data_root = {clsloc!r}',
        f'stage1 = dict(config={stage1!r})',
        'peak_iou = dict(nproc=1)',
        'peak_iou_percentile = dict(nproc=1)',
        'summary = dict(report=False)',  # tests/visualization checks the report
    ])
    work_dir = str(tmp_path / 'work')
    run_ok('pipeline', [pipeline, '--work-dir', work_dir])
    with open(osp.join(work_dir, 'summary.json')) as f:
        summary = json.load(f)
    curves = {}
    for step in ('peak_iou', 'peak_iou_percentile'):
        result = summary['steps'][step]
        assert result['num_images'] == 6 and len(result['curve']) == 256
        assert result['peak_iou'] == pytest.approx(max(result['curve']))
        assert result['curve'][result['peak_threshold']] == result['peak_iou']
        # the 0/255 masks count as foreground: a map that covers everything scores the
        # foreground fraction at t = 0, never 0
        assert 0 < result['curve'][0] <= result['peak_iou'] <= 100  # percent
        with open(osp.join(work_dir, step, 'curve.json')) as f:
            curves[step] = json.load(f)
        assert curves[step]['peak_threshold'] == result['peak_threshold']
    assert summary['steps']['peak_iou_percentile']['reference'] == 'percentile'
    assert [row['kind'] for row in summary['rows']] == ['peak_iou', 'peak_iou']
    assert summary['inference_model']['within_limit']
    assert summary['inference_model']['parameters'] < 1e6
    maps = np.load(osp.join(work_dir, 'maps', 'ILSVRC2012_val_val_00000.npz'))
    assert len(maps['classes']) == 1 and maps['maps'].shape[1:] == (32, 32)
    figure = str(tmp_path / 'curve.png')
    # the figure tool's command line (its one subprocess test)
    run_tool([PYTHON, 'tools/analysis/lid_curve_figure.py',
              osp.join(work_dir, 'peak_iou', 'curve.json'),
              osp.join(work_dir, 'peak_iou_percentile', 'curve.json'),
              '--labels', 'max', 'p90', '--out', figure])
    assert osp.getsize(figure) > 1000
