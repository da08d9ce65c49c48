"""model-index.yml and configs/<method>/metafile.yml (mmseg's model-index format).

As in mmsegmentation, a method's metafile lists the rows of the "Results and models" table of
its README (the table whose header starts with ``Method`` and has a ``config`` column), in
order: this test parses the tables, so a README row and its metafile entry cannot drift apart
(config, pipeline, backbone, crop size, schedule and every number).
"""
import os
import os.path as osp
import re

import pytest
import yaml
from conftest import REPO_ROOT

# configs/ folders that hold no method's configs (pretrain: the shipped backbone's recipe)
NOT_METHODS = {'_base_', 'pipelines', 'pretrain'}
# results-table column -> metric name(s) of the metafile; "a / b" cells give two metrics,
# other cells their first number, "—" none
METRIC_COLUMNS = {
    'map mIoU': 'Map mIoU', 'recall / precision @50 %': ('Recall@50', 'Precision@50'),
    'pseudo-label mIoU': 'Label mIoU', 'DeepLab val mIoU': 'mIoU',
    'Peak-IoU @ t (max ref.)': 'Peak-IoU', 'Peak-IoU @ t (p90 ref.)': 'Peak-IoU (p90 ref.)',
    'map mIoU (max) @ bg': 'Map mIoU', 'map mIoU (p90) @ bg': 'Map mIoU (p90 ref.)'}
NUMBER = re.compile(r'-?\d+(?:\.\d+)?')
LINK = re.compile(r'\[(\w+)\]\(([^)]+)\)')


def method_folders() -> list:
    return sorted(name for name in os.listdir(osp.join(REPO_ROOT, 'configs'))
                  if name not in NOT_METHODS
                  and any(f.endswith('.py') for f in os.listdir(osp.join(REPO_ROOT, 'configs',
                                                                          name))))


def markdown_tables(path: str) -> list:
    """``[(header cells, [row cells, ...]), ...]`` of the pipe tables of a markdown file."""
    tables, block = [], []
    with open(path) as f:
        for line in f.read().splitlines() + ['']:
            if line.startswith('|'):
                block.append([cell.strip() for cell in line.strip().strip('|').split('|')])
                continue
            if len(block) > 2:
                tables.append((block[0], block[2:]))
            block = []
    return tables


def results_table(folder: str) -> tuple:
    """Header and rows of the "Results and models" table of ``configs/<folder>/README.md``."""
    path = osp.join(REPO_ROOT, 'configs', folder, 'README.md')
    found = [table for table in markdown_tables(path)
             if table[0][0] == 'Method' and 'config' in table[0]]
    assert len(found) == 1, f'{path}: {len(found)} results tables (Method ... config columns)'
    return found[0]


def number(cell: str, where: str) -> float:
    match = NUMBER.search(cell.replace('**', ''))
    assert match, f'{where}: no number in {cell!r}'
    return float(match.group())


def row_entry(folder: str, header: list, row: list) -> dict:
    """What the metafile entry of a results row holds: config, metadata and metrics."""
    cells = dict(zip(header, row))
    where = f"configs/{folder}/README.md, row {cells['Method']!r}"
    links = {name: osp.normpath(osp.join('configs', folder, target))
             for name, target in LINK.findall(cells['config'])}
    size = cells.get('Crop Size', cells.get('Image Size'))
    metadata = {'Backbone': cells['Backbone'], 'Crop Size': '({},{})'.format(*size.split('x')),
                'Lr schd': cells['Lr schd']}
    if 'pipeline' in links:
        metadata['Pipeline'] = links['pipeline']
    metrics = {}
    for column, metric in METRIC_COLUMNS.items():
        cell = cells.get(column, '—')
        if cell in ('—', '-'):  # not measured
            continue
        if isinstance(metric, tuple):
            parts = cell.split('/')
            assert len(parts) == len(metric), f'{where}: {column} {cell!r}'
            metrics.update({m: number(part, where) for m, part in zip(metric, parts)})
        else:
            metrics[metric] = number(cell, where)
    return dict(Method=cells['Method'], Config=links['config'], Metadata=metadata,
                Metrics=metrics)


def readme_entries(folder: str) -> list:
    """The entries of a folder's results rows, without the rows whose config belongs to
    another method folder that lists the same row in its own README (its metafile has it)."""
    header, rows = results_table(folder)
    entries = []
    for row in rows:
        entry = row_entry(folder, header, row)
        owner = entry['Config'].split('/')[1]
        if owner != folder and entry['Method'] in [r[0] for r in results_table(owner)[1]]:
            continue
        entries.append(entry)
    return entries


def load_yaml(path: str):
    with open(osp.join(REPO_ROOT, path)) as f:
        return yaml.safe_load(f)


def metafiles() -> list:
    return load_yaml('model-index.yml')['Import']


def all_models() -> list:
    return [model for path in metafiles() for model in load_yaml(path)['Models']]


def test_model_index_imports_one_metafile_per_method_folder():
    assert sorted(metafiles()) == [f'configs/{name}/metafile.yml' for name in method_folders()]


def test_metafiles_follow_mmseg_format_and_name_existing_files():
    for path in metafiles():
        meta = load_yaml(path)
        names = [c['Name'] for c in meta['Collections']]
        for collection in meta['Collections']:
            assert collection['Paper']['URL'] and collection['Paper']['Title'], path
            assert collection['Code']['URL'], path
            assert osp.isfile(osp.join(REPO_ROOT, collection['README'])), path
        for model in meta['Models']:
            where = f"{path}: {model['Name']}"
            assert model['In Collection'] in names, where
            assert osp.isfile(osp.join(REPO_ROOT, model['Config'])), where
            # mmseg's naming: the config's name, a suffix where one config has several rows
            assert model['Name'].startswith(osp.splitext(osp.basename(model['Config']))[0])
            pipeline = model['Metadata'].get('Pipeline')
            assert pipeline is None or osp.isfile(osp.join(REPO_ROOT, pipeline)), where
            assert 'Weights' not in model, f'{where}: no checkpoint is shipped'
            for result in model['Results']:
                assert set(result) == {'Task', 'Dataset', 'Metrics'}, where
                assert result['Dataset'].startswith('synthetic benchmark'), where
                assert all(isinstance(v, float) for v in result['Metrics'].values()), where


def test_model_names_are_unique():
    names = [model['Name'] for model in all_models()]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize('folder', method_folders())
def test_metafile_lists_the_readme_results_rows(folder):
    models = load_yaml(f'configs/{folder}/metafile.yml')['Models']
    entries = readme_entries(folder)
    assert len(models) == len(entries), [e['Method'] for e in entries]
    for model, entry in zip(models, entries):
        where = f"{model['Name']} against configs/{folder}/README.md, row {entry['Method']!r}"
        assert model['Config'] == entry['Config'], where
        metadata = {key: model['Metadata'].get(key) for key in entry['Metadata']}
        assert metadata == entry['Metadata'], where
        metrics = {}
        for result in model['Results']:
            assert not set(metrics) & set(result['Metrics']), f'{where}: a metric given twice'
            metrics.update(result['Metrics'])
        assert metrics == entry['Metrics'], where


def test_the_row_parser_reads_links_split_bold_and_missing_cells():
    header = ['Method', 'Backbone', 'Crop Size', 'Lr schd', 'map mIoU',
              'recall / precision @50 %', 'DeepLab val mIoU', 'config']
    row = ['X', 'TinyConvNet', '128x128', '8e', '36.58 (0.10)', '1.5 / **2.25**', '—',
           '[config](x_tiny.py), [pipeline](../pipelines/x.py)']
    assert row_entry('cam', header, row) == dict(
        Method='X', Config='configs/cam/x_tiny.py',
        Metadata={'Backbone': 'TinyConvNet', 'Crop Size': '(128,128)', 'Lr schd': '8e',
                  'Pipeline': 'configs/pipelines/x.py'},
        Metrics={'Map mIoU': 36.58, 'Recall@50': 1.5, 'Precision@50': 2.25})
    with pytest.raises(AssertionError, match='no number'):
        row_entry('cam', header, row[:6] + ['n/a', row[7]])
