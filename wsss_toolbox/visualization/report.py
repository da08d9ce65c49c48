"""Self-contained HTML reports of pipeline runs: one file, images inlined as base64 PNG, no
script, no network, readable in any browser.

* :func:`write_pipeline_report` -- ``<work_dir>/report.html`` of one run: the summary table,
  the background-threshold sweep and the LID IoU-threshold curve as plots, per-class IoU bars,
  and a paged grid of images (image | ground truth | map | pseudo labels | segmentor).
* :func:`write_comparison_report` -- several runs side by side: their summary rows, their
  per-class IoU, and the images they share (image | ground truth | each run's labels and
  segmentor prediction); ``tools/analysis/compare_runs.py``.

Paging is CSS only (``:target``): page links are anchors; the first page shows until another
is targeted (it comes last in the document, so that a targeted page before it can hide it with
a sibling selector, and is ordered first on screen).
"""
import base64
import html
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from wsss_toolbox.maps.io import load_maps, map_path
from wsss_toolbox.pseudo_labels import load_label, load_rgb_image
from wsss_toolbox.pseudo_labels.label_io import label_path

from .local_visualizer import MapLocalVisualizer, legend_entries, mask_meta
from .report_plots import heat_map, per_class_plot, sweep_plot
from .run_records import PipelineRun, predict_labels

REPORT_FILE = 'report.html'
#: width of a grid cell in CSS pixels (small images are scaled up without smoothing)
CELL_PX = 176
STYLE = f"""
body {{font-family: sans-serif; margin: 1.5em; color: #222; max-width: 100em}}
h1 {{font-size: 1.5em}} h2 {{font-size: 1.2em; margin-top: 1.6em}}
table.data {{border-collapse: collapse; margin: .5em 0}}
table.data td, table.data th {{border: 1px solid #bbb; padding: .2em .6em; text-align: right}}
table.data td:first-child, table.data th:first-child {{text-align: left}}
.plots img {{max-width: 100%; margin: .3em}}
.warn {{color: #a40}}
.legend span.swatch {{display: inline-block; width: 1em; height: 1em; border: 1px solid #666;
  vertical-align: middle; margin: 0 .3em 0 1em}}
.pages {{display: flex; flex-direction: column}}
.page {{display: none}}
.page:target, .page.first {{display: block}}
.page.first {{order: -1}}
.page:target ~ .page.first {{display: none}}
nav a {{margin-right: .5em}}
table.grid {{border-collapse: collapse}}
table.grid th {{font-size: .85em; font-weight: normal; max-width: {CELL_PX}px;
  word-break: break-all}}
table.grid td {{padding: 2px; vertical-align: top}}
table.grid img {{width: {CELL_PX}px; display: block}}
table.grid img.small {{image-rendering: pixelated}}
table.grid td.id {{font-size: .8em; word-break: break-all; max-width: 8em}}
"""


def png_uri(image: np.ndarray) -> str:
    """A ``data:`` URI of an RGB (HxWx3) or grey (HxW) uint8 image as PNG."""
    image = np.ascontiguousarray(image)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode('.png', image)
    if not ok:
        raise ValueError(f'could not encode an image of shape {image.shape} as PNG')
    return 'data:image/png;base64,' + base64.b64encode(data.tobytes()).decode()


def _esc(value) -> str:
    return html.escape(str(value))


def _img(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{_esc(alt)}">'


def _cell(image: np.ndarray, alt: str) -> str:
    """A grid cell's image; one smaller than the cell is scaled up without smoothing."""
    small = ' class="small"' if image.shape[1] < CELL_PX else ''
    return f'<img src="{png_uri(image)}" alt="{_esc(alt)}"{small}>'


def _number(value, digits: int = 2) -> str:
    return '' if value is None else f'{value:.{digits}f}'


def summary_table(summary: Optional[dict]) -> str:
    """The rows of ``summary.json`` as an HTML table, its warnings and inference model."""
    if not summary:
        return '<p>No summary.json: the summary step has not run.</p>'
    parts = ['<table class="data"><tr><th>result</th><th>mIoU %</th><th>other %</th></tr>']
    for row in summary.get('rows', []):
        other = (f'{row["ignored"]:.2f} ignored' if row.get('ignored') is not None
                 else _number(row.get('value')))
        parts.append(f'<tr><td>{_esc(row.get("name", row.get("step")))}</td>'
                     f'<td>{_number(row.get("mIoU"))}</td><td>{_esc(other)}</td></tr>')
    parts.append('</table>')
    model = summary.get('inference_model')
    if model:
        parts.append(f'<p>Inference model (step "{_esc(model.get("step"))}"): '
                     f'{model.get("parameters", 0) / 1e6:.2f} M parameters.</p>')
    if summary.get('warnings'):
        parts.append('<ul class="warn">' + ''.join(
            f'<li>{_esc(message)}</li>' for message in summary['warnings']) + '</ul>')
    return '\n'.join(parts)


def per_class_table(columns: Sequence[Tuple[str, List[str], List[Optional[float]]]]) -> str:
    """IoU % per class (rows) of each entry (columns), their mean last."""
    classes: List[str] = []
    for _, names, _ in columns:
        classes += [name for name in names if name not in classes]
    tables = [dict(zip(names, values)) for _, names, values in columns]
    head = ''.join(f'<th>{_esc(what)}</th>' for what, _, _ in columns)
    rows = [f'<table class="data"><tr><th>class</th>{head}</tr>']
    for name in classes:
        cells = ''.join(f'<td>{_number(table.get(name))}</td>' for table in tables)
        rows.append(f'<tr><td>{_esc(name)}</td>{cells}</tr>')
    means = [np.mean([v for v in table.values() if v is not None]) if table else None
             for table in tables]
    rows.append('<tr><th>mean</th>' + ''.join(f'<th>{_number(m)}</th>' for m in means) +
                '</tr></table>')
    return '\n'.join(rows)


def legend_html(entries: Sequence[tuple]) -> str:
    """The class colours of the masks shown: a swatch and the name of each."""
    return '<p class="legend">Classes:' + ''.join(
        f'<span class="swatch" style="background: rgb{tuple(colour)}"></span>{_esc(name)}'
        for name, colour in entries) + '</p>'


def paged_grid(headers: Sequence[str], rows: Sequence[Tuple[str, List[str]]],
               per_page: int, legend: str = '') -> str:
    """A table of images (one row per image: its id, then cells of HTML) in pages of
    ``per_page`` rows linked by anchors (``#page-1`` ...)."""
    pages = [rows[start:start + per_page] for start in range(0, len(rows), per_page)] or [[]]
    nav = ('<nav>Pages: ' + ''.join(f'<a href="#page-{k + 1}">{k + 1}</a>'
                                    for k in range(len(pages))) + '</nav>'
           if len(pages) > 1 else '')
    head = '<tr><th>image id</th>' + ''.join(f'<th>{_esc(h)}</th>' for h in headers) + '</tr>'
    parts = [legend, nav, '<div class="pages">']
    # the first page last: `.page:target ~ .page.first` hides it when another is targeted
    for index, page in list(enumerate(pages))[1:] + [(0, pages[0])]:
        first = ' first' if index == 0 else ''
        body = ''.join(f'<tr><td class="id">{_esc(img_id)}</td>' +
                       ''.join(f'<td>{cell}</td>' for cell in cells) + '</tr>'
                       for img_id, cells in page)
        parts.append(f'<section class="page{first}" id="page-{index + 1}">'
                     f'<h3>Page {index + 1} of {len(pages)}</h3>'
                     f'<table class="grid">{head}{body}</table></section>')
    parts.append('</div>')
    return '\n'.join(parts)


def _page(title: str, body: Sequence[str]) -> str:
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<title>{_esc(title)}</title><style>{STYLE}</style></head>\n<body>\n'
            f'<h1>{_esc(title)}</h1>\n' + '\n'.join(body) + '\n</body></html>\n')


def _write(path: str, text: str) -> str:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)
    return path


def _predictions(run: PipelineRun, samples: List[dict], predict: bool,
                 notes: List[str]) -> Tuple[Optional[str], Dict[str, str]]:
    """``(segmentor step, {img_id: prediction PNG})``; a failure becomes a note."""
    segmentor = run.segmentor_step()
    if not predict or segmentor is None or not samples:
        return segmentor, {}
    try:
        return segmentor, predict_labels(run, segmentor, samples)
    except Exception as error:  # the report is still useful without the predictions
        notes.append(f'{run.name}: no segmentor predictions ({type(error).__name__}: {error})')
        return segmentor, {}


def write_pipeline_report(work_dir: str, samples: Optional[List[dict]] = None,
                          classes: Optional[Sequence[str]] = None, maps: Optional[str] = None,
                          labels: Optional[Sequence[str]] = None, num_images: int = 48,
                          per_page: int = 12, predict: bool = True,
                          out_file: Optional[str] = None) -> str:
    """Write the report of a finished pipeline run (``<work_dir>/report.html``).

    Args:
        work_dir: the ``--work-dir`` of ``tools/pipeline.py``.
        samples, classes: the image records of the grid and the foreground classes (the
            maps step's ``samples()``); default: read from the dataset of the training step
            upstream of ``maps`` (without one the grid is left out, with a note saying so).
        maps: the map step of the grid (default: the summary figure's, else the first step
            with map files); labels: its label steps (default: the figure's, else all).
        num_images: images in the grid (the first ones); per_page: rows per page.
        predict: add the segmentor's prediction of each grid image (the last
            ``TrainSegmentor`` step's checkpoint, cached in ``<work_dir>/.report/``).
        out_file: default ``<work_dir>/report.html``.

    Returns the path of the report.
    """
    run = PipelineRun(work_dir)
    notes: List[str] = []
    body = ['<h2>Summary</h2>', summary_table(run.summary)]
    plots = sweep_plot(run)
    per_class = run.per_class_iou()
    if plots or per_class:
        body.append('<h2>Plots</h2><div class="plots">' +
                    ''.join(_img(uri, 'plot') for uri in plots) +
                    (_img(per_class_plot(per_class), 'per-class IoU') if per_class else '') +
                    '</div>')
    if per_class:
        body += ['<h2>Per-class IoU %</h2>', per_class_table(per_class)]
    maps = maps or run.map_step()
    if maps is not None and samples is None:
        try:
            samples, classes = run.samples(maps)
        except ValueError as error:  # the rest of the report is still worth writing
            notes.append(f'no image grid: {error}')
            maps = None
    if maps is not None:
        classes = list(classes or [])
        labels = list(labels if labels is not None else
                      run.figure_options().get('labels') or run.label_steps())
        shown = list(samples[:num_images])
        segmentor, predicted = _predictions(run, shown, predict, notes)
        meta = mask_meta(dict(classes=classes)) if classes else None
        headers = ['image', 'ground truth', f'map ({maps}, max over classes)'] + labels
        headers += [f'prediction ({segmentor})'] if predicted else []
        visualizer = MapLocalVisualizer(name='wsss_toolbox_report')
        rows, masks = [], []
        for sample in shown:
            image = load_rgb_image(sample['img_path'])
            file = map_path(run.folder(maps), sample['img_id'])
            heat = (load_maps(file, img_id=sample['img_id'])['maps'].max(axis=0, initial=0)
                    if osp.isfile(file) else None)
            label_files = [sample.get('seg_map_path')] + [
                label_path(run.folder(step), sample['img_id']) for step in labels]
            label_files += [predicted.get(sample['img_id'])] if predicted else []
            cells = [_cell(image, 'image')]
            for index, path in enumerate(label_files):
                if index == 1:
                    cells.append('' if heat is None else _cell(heat_map(heat), 'map'))
                if not path or not osp.isfile(path):
                    cells.append('')
                    continue
                mask = load_label(path)
                masks.append(mask)
                painted = visualizer.draw_mask(mask, dataset_meta=meta,
                                               num_classes=None if meta else int(mask.max()) + 1,
                                               alpha=1.0)
                cells.append(_cell(painted, headers[index + (index > 0) + 1]))
            rows.append((sample['img_id'], cells))
        legend = legend_html(legend_entries(masks, meta)) if meta and masks else ''
        body += [f'<h2>Images ({len(shown)} of {len(samples)})</h2>',
                 paged_grid(headers, rows, per_page, legend)]
    body += ['<h2>Notes</h2><ul class="warn">' +
             ''.join(f'<li>{_esc(n)}</li>' for n in notes) + '</ul>'] if notes else []
    return _write(out_file or osp.join(run.work_dir, REPORT_FILE),
                  _page(f'Pipeline report: {run.name}', body))


def _final_labels(run: PipelineRun) -> Optional[str]:
    """The label step a run's segmentor trained on, else its last label step."""
    segmentor = run.segmentor_step()
    if segmentor is not None and run.result(segmentor).get('labels') in run.records:
        return run.result(segmentor)['labels']
    steps = run.label_steps()
    return steps[-1] if steps else None


def write_comparison_report(work_dirs: Sequence[str], out_file: str,
                            names: Optional[Sequence[str]] = None, num_images: int = 24,
                            per_page: int = 12, predict: bool = True) -> str:
    """Several runs side by side (``tools/analysis/compare_runs.py``): their summary rows,
    per-class IoU of each, and for the images every run has labels of: image | ground truth
    | each run's pseudo labels (the ones its segmentor trained on) and prediction. The
    images and classes are those of the first run's maps."""
    runs = [PipelineRun(work_dir) for work_dir in work_dirs]
    names = list(names) if names else [run.name for run in runs]
    if len(names) != len(runs):
        raise ValueError(f'{len(names)} names for {len(runs)} work dirs')
    notes: List[str] = []
    row_names: List[str] = []
    for run in runs:
        row_names += [row['name'] for row in (run.summary or {}).get('rows', [])
                      if row['name'] not in row_names]
    head = ''.join(f'<th>{_esc(name)}</th>' for name in names)
    table = [f'<table class="data"><tr><th>result (mIoU % / other %)</th>{head}</tr>']
    for row_name in row_names:
        cells = []
        for run in runs:
            row = next((r for r in (run.summary or {}).get('rows', [])
                        if r['name'] == row_name), {})
            cells.append(_number(row.get('mIoU') if row.get('mIoU') is not None
                                 else row.get('value')))
        table.append(f'<tr><td>{_esc(row_name)}</td>' +
                     ''.join(f'<td>{cell}</td>' for cell in cells) + '</tr>')
    table.append('</table>')
    body = ['<h2>Summary</h2>', '\n'.join(table)]
    per_class = [(f'{name}: {what}', classes, values)
                 for name, run in zip(names, runs) for what, classes, values in run.per_class_iou()]
    if per_class:
        body += ['<h2>Per-class IoU %</h2>', per_class_table(per_class)]
    maps = runs[0].map_step()
    if maps is not None:
        samples, classes = runs[0].samples(maps)
        meta = mask_meta(dict(classes=classes))
        labels = [_final_labels(run) for run in runs]
        common = [s for s in samples
                  if all(step and osp.isfile(label_path(run.folder(step), s['img_id']))
                         for run, step in zip(runs, labels))]
        shown = common[:num_images]
        predicted = [_predictions(run, shown, predict, notes)[1] for run in runs]
        headers = ['image', 'ground truth']
        for name, step, preds in zip(names, labels, predicted):
            headers += [f'{name}: {step}'] + ([f'{name}: prediction'] if preds else [])
        visualizer = MapLocalVisualizer(name='wsss_toolbox_comparison')
        rows, masks = [], []
        for sample in shown:
            files = [sample.get('seg_map_path')]
            for run, step, preds in zip(runs, labels, predicted):
                files += [label_path(run.folder(step), sample['img_id'])]
                files += [preds.get(sample['img_id'])] if preds else []
            cells = [_cell(load_rgb_image(sample['img_path']), 'image')]
            for header, path in zip(headers[1:], files):
                if not path or not osp.isfile(path):
                    cells.append('')
                    continue
                masks.append(load_label(path))
                cells.append(_cell(visualizer.draw_mask(masks[-1], dataset_meta=meta, alpha=1.0),
                                   header))
            rows.append((sample['img_id'], cells))
        body += [f'<h2>Images ({len(shown)} of the {len(common)} all runs have labels of)</h2>',
                 paged_grid(headers, rows, per_page,
                            legend_html(legend_entries(masks, meta)) if masks else '')]
    body += ['<h2>Notes</h2><ul class="warn">' +
             ''.join(f'<li>{_esc(n)}</li>' for n in notes) + '</ul>'] if notes else []
    return _write(out_file, _page('Comparison: ' + ', '.join(names), body))
