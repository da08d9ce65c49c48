"""The report of a finished tiny CAM pipeline (the shared ``cam_pipeline`` run, copied): images
and classes read from the work dir's records, the segmentor's predictions of the grid images
(cached), the page as headless Chromium renders it; compare_runs.py's command line on it."""
import os
import os.path as osp
import re

from chromium_render import render
from conftest import PYTHON, run_tool
from shared_pipelines import copy_run

from wsss_toolbox.visualization import write_pipeline_report


def test_report_of_a_finished_tiny_pipeline(cam_pipeline, tmp_path, monkeypatch):
    run = copy_run(cam_pipeline, str(tmp_path / 'run'))
    monkeypatch.chdir(run.root)  # the run's data_root is relative (data/synthetic)
    # the pipeline's Summarize step wrote one already, with the figure's images
    with open(osp.join(run.work_dir, 'report.html'), encoding='utf-8') as f:
        written = f.read()
    assert 'prediction (stage3)' in written
    assert len(re.findall(r'<td class="id">', written)) == 16
    report = write_pipeline_report(run.work_dir, per_page=6)
    with open(report, encoding='utf-8') as f:
        text = f.read()
    # image | GT | map | pseudo_labels | pseudo_labels_crf | prediction (stage3) per image
    assert 'prediction (stage3)' in text and 'DeepLab val' in text
    rows = re.findall(r'<td class="id">([^<]+)</td>', text)
    assert len(rows) == 16 and len(re.findall(r'id="page-\d+"', text)) == 3
    cache = [name for name in os.listdir(osp.join(run.work_dir, '.report'))
             if name.startswith('stage3-')]
    assert len(cache) == 1 and len(os.listdir(osp.join(run.work_dir, '.report', cache[0]))) == 16
    shown = render(report, str(tmp_path))
    assert int(shown['images']) == 2 + 6 * 16 and shown['decoded'] == shown['images']
    out = str(tmp_path / 'compare.html')
    proc = run_tool([PYTHON, osp.abspath('tools/analysis/compare_runs.py'), run.work_dir,
                     run.work_dir, '--names', 'a', 'b', '--out', out, '--no-predict'])
    assert out in proc.stdout
    with open(out, encoding='utf-8') as f:
        assert len(re.findall(r'<td class="id">', f.read())) == 16
