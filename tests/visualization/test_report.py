"""HTML reports of pipeline runs, built from a work-dir layout written here (records, summary,
map and label files, a test log): contents, paging, self-containedness, the comparison page,
and the pages as headless Chromium renders them."""
import json
import os
import os.path as osp
import re

import mmcv
import numpy as np
import pytest
from chromium_render import render, screenshot
from tiny_benchmark import write_gt_maps, write_tiny_benchmark
from tool_runs import run_ok

from wsss_toolbox.pseudo_labels import save_label
from wsss_toolbox.visualization import write_comparison_report, write_pipeline_report

CLASSES = ['stripes_red', 'stripes_green', 'stripes_blue']  # the tiny benchmark's
NAMES = ['background'] + CLASSES
TEST_LOG = """2026/01/01 00:00:00 - mmengine - INFO - per class results:
2026/01/01 00:00:00 - mmengine - INFO -
+---------------+-------+-------+
|     Class     |  IoU  |  Acc  |
+---------------+-------+-------+
|   background  | 71.5  | 90.0  |
|  stripes_red  | 12.25 | 20.0  |
| stripes_green |  nan  |  nan  |
|  stripes_blue |  3.0  |  4.0  |
+---------------+-------+-------+
2026/01/01 00:00:00 - mmengine - INFO - Iter(test) [2/2]    mIoU: 28.9
"""


def _record(work_dir, name, type_, result, options=None, inputs=None):
    path = osp.join(work_dir, '.pipeline', f'{name}.json')
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(dict(type=type_, config=dict(step=options or {}), inputs=inputs or {},
                       run_id=f'{name}-run', result=result), f)


def write_run(work_dir, data_root, label_shift=0, skip_label=None):
    """A finished run's work dir: classifier, maps, map sweep, IoU curve, labels (the ground
    truth shifted by ``label_shift`` px, with an ignored stripe), a segmentor test, summary."""
    dataset = dict(type='SyntheticWSSSDataset', data_root=data_root, split='train')
    _record(work_dir, 'stage1', 'TrainClassifier', dict(checkpoint='epoch_1.pth'),
            dict(train_dataloader=dict(dataset=dataset)))
    ids = write_gt_maps(data_root, osp.join(work_dir, 'maps'))
    _record(work_dir, 'maps', 'InferMaps', dict(written=len(ids), split='train'),
            dict(split='train'), inputs=dict(stage1='stage1-run'))
    metrics = dict(IoU=[0.9, 0.5, 0.25, float('nan')], class_names=NAMES, mIoU=0.55)
    _record(work_dir, 'eval_maps', 'EvaluateMaps', dict(threshold_sweep=dict(
        thresholds=[0.1, 0.2, 0.3], miou_curve=[0.4, 0.55, 0.5], best_threshold=0.2,
        best_metrics=metrics)))
    curve = list(np.linspace(0, 0.6, 256) * np.linspace(1, 0, 256) * 4)
    _record(work_dir, 'peak_iou', 'EvaluatePeakIoU', dict(
        curve=curve, peak_iou=float(max(curve)), peak_threshold=int(np.argmax(curve))))
    for img_id in ids:
        if img_id == skip_label:
            continue
        gt = mmcv.imread(osp.join(data_root, 'SegmentationClass', f'{img_id}.png'),
                         flag='unchanged', backend='pillow')
        label = np.roll(gt, label_shift, axis=1)
        label[:, :2] = 255
        save_label(osp.join(work_dir, 'labels', f'{img_id}.png'), label)
    _record(work_dir, 'labels', 'MakePseudoLabels', dict(
        ignored_fraction=0.06, eval=dict(metrics=dict(metrics, IoU=[0.8, 0.4, 0.3, 0.2]))))
    _record(work_dir, 'test', 'TestSegmentor', dict(metrics=dict(mIoU=28.9),
                                                    checkpoint='x.pth', labels='labels'))
    log = osp.join(work_dir, 'test', '20260101_000000', '20260101_000000.log')
    os.makedirs(osp.dirname(log))
    with open(log, 'w') as f:
        f.write(TEST_LOG)
    rows = [dict(kind='maps', step='eval_maps', name='maps (best bg threshold 0.20)',
                 mIoU=55.0, value=None),
            dict(kind='labels', step='labels', name='labels', mIoU=42.5, ignored=6.0),
            dict(kind='segmentor', step='test', name='DeepLab val', mIoU=28.9, value=None)]
    with open(osp.join(work_dir, 'summary.json'), 'w') as f:
        json.dump(dict(rows=rows, warnings=['step "maps": 1 image has empty maps'],
                       steps={name: {} for name in ('stage1', 'maps', 'eval_maps', 'peak_iou',
                                                    'labels', 'test')}), f)
    return ids


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp('report')
    data_root = write_tiny_benchmark(str(root / 'data'))
    first, second = str(root / 'cam'), str(root / 'oaa')
    ids = write_run(first, data_root)
    write_run(second, data_root, label_shift=3, skip_label=ids[0])
    return first, second, ids


def _images(text):
    return re.findall(r'<img src="([^"]*)"', text)


def test_pipeline_report_contents(runs, tmp_path):
    work_dir, _, ids = runs
    path = write_pipeline_report(work_dir, per_page=2)
    assert path == osp.join(work_dir, 'report.html')
    with open(path, encoding='utf-8') as f:
        text = f.read()
    # the summary table, its warnings; the per-class table has the maps', the labels' and
    # the segmentor's IoU (read from the test log; its nan is left blank)
    for name in ('maps (best bg threshold 0.20)', 'DeepLab val', '42.50', '6.00 ignored',
                 '1 image has empty maps', 'eval_maps (maps @ 0.20)', 'test (segmentor)',
                 '12.25', '71.50'):
        assert name in text, name
    # three plots (sweep, IoU curve, per-class bars), then image | GT | map | labels per image
    images = _images(text)
    assert len(images) == 3 + 4 * len(ids)
    assert all(src.startswith('data:image/png;base64,') for src in images)
    assert 'http' not in text.replace('http-equiv', '') and '<script' not in text
    # pages of two images, linked by anchors; the legend names the classes in the masks
    pages = len(ids) // 2 + len(ids) % 2
    assert sorted(re.findall(r'id="page-(\d+)"', text)) == [str(k + 1) for k in range(pages)]
    assert all(f'href="#page-{k + 1}"' in text for k in range(pages))
    legend = re.search(r'<p class="legend">(.*?)</p>', text).group(1)
    assert re.findall(r'</span>([^<]+)', legend) == NAMES + ['ignore']

    # without a training record upstream of the maps the grid is left out, with a note, and
    # the samples can be given
    record = osp.join(work_dir, '.pipeline', 'stage1.json')
    os.replace(record, record + '.away')
    try:
        with open(write_pipeline_report(work_dir, out_file=str(tmp_path / 'r.html'))) as f:
            text = f.read()
        assert 'no image grid:' in text and 'pass samples= and classes=' in text
        assert len(_images(text)) == 3  # the plots only
        samples = [dict(img_id=img_id, img_path=osp.join(
            osp.dirname(work_dir), 'data', 'JPEGImages', f'{img_id}.jpg')) for img_id in ids]
        out = write_pipeline_report(work_dir, samples=samples[:1], classes=CLASSES,
                                    labels=['labels'], out_file=str(tmp_path / 'r.html'))
        with open(out) as f:
            assert len(_images(f.read())) == 3 + 3  # no ground truth: an empty cell
    finally:
        os.replace(record + '.away', record)


def test_not_a_work_dir_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=f'{tmp_path} is not the work dir'):
        write_pipeline_report(str(tmp_path))


def test_comparison_shows_the_images_every_run_has(runs, tmp_path):
    first, second, ids = runs
    out = str(tmp_path / 'compare.html')
    run_ok('analysis/compare_runs', [first, second, '--names', 'CAM', 'OAA', '--out', out,
                                     '--per-page', '3'])
    with open(out, encoding='utf-8') as f:
        text = f.read()
    assert 'CAM: labels' in text and 'OAA: labels' in text and 'OAA: test (segmentor)' in text
    shown = re.findall(r'<td class="id">([^<]+)</td>', text)
    assert sorted(shown) == ids[1:]  # the second run has no labels of the first image
    assert len(_images(text)) == 4 * len(shown)  # image | GT | CAM labels | OAA labels
    with pytest.raises(ValueError, match='1 names for 2 work dirs'):
        write_comparison_report([first, second], out, names=['x'])


def test_reports_render_in_headless_chromium(runs, tmp_path):
    work_dir, second, ids = runs
    report = write_pipeline_report(work_dir, per_page=2, out_file=str(tmp_path / 'report.html'))
    shown = render(report, str(tmp_path))
    assert int(shown['images']) == 3 + 4 * len(ids)
    assert shown['decoded'] == shown['images']  # every inlined PNG decoded
    assert int(shown['tables']) >= 3  # summary, per-class, a grid per page
    assert shown['shown'] == 'page-1'  # the first page by default, the others hidden
    assert render(report, str(tmp_path), '#page-2')['shown'] == 'page-2'
    assert render(report, str(tmp_path), '#page-1')['shown'] == 'page-1'
    picture = screenshot(report, str(tmp_path))
    assert (picture < 200).any(axis=2).mean() > 0.02  # not a blank page
    compare = write_comparison_report([work_dir, second], str(tmp_path / 'compare.html'))
    shown = render(compare, str(tmp_path))
    assert int(shown['images']) > 0 and shown['decoded'] == shown['images']
