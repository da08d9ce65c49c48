"""Method configs are one base per dataset plus short variants: every variant inherits its
dataset's base (a file of `configs/<method>/_base_/` or the method's main config of that data
set), and prose lives in the method's README, not in config headers. Only the file text is
read (no config is loaded)."""
import ast
import glob
import os.path as osp
from typing import List

import pytest
from conftest import REPO_ROOT

CONFIGS = osp.join(REPO_ROOT, 'configs')
# method -> {part of a config's file name: the dataset base every such config inherits}
BASES = {
    'oaa': {'_synthetic-': '_base_/oaa_tiny_synthetic.py',
            '_voc12aug-': '_base_/oaa_vgg16_voc12aug.py'},
    'seenet': {'_synthetic-': 'seenet_tiny_1xb16-8e_synthetic-128x128.py',
               '_voc12aug-': 'seenet_vgg16_1xb16-25k_voc12aug-224x224.py'},
    'mcis': {'_synthetic-': 'mcis_tiny_1xb8-4e_synthetic-128x128.py',
             '_voc12aug-': 'mcis_vgg16_1xb5-15e_voc12aug-256x256.py',
             '_lid20-': 'mcis_vgg16_1xb5-15e_voc12aug-256x256.py'},
    'rpnet': {'_synthetic-': 'rpnet_tiny_1xb8-4e_synthetic-128x128.py',
              '_voc12aug-': 'rpnet_x50_1xb8-5e_voc12aug-512x512.py',
              '_coco2014-': 'rpnet_x50_1xb8-5e_voc12aug-512x512.py'},
}
PIPELINE_BASES = {'oaa': 'oaa_synthetic.py'}
MAX_LINES = 40  # a variant; the dataset bases hold the rest
MAX_COMMENT_LINES = 3  # what the variant changes and the README section


def base_files(path: str) -> List[str]:
    """The ``_base_`` files ``path`` names, as absolute paths (empty without ``_base_``)."""
    with open(path) as f:
        tree = ast.parse(f.read(), filename=path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == '_base_'
                for target in node.targets):
            names = ast.literal_eval(node.value)
            names = [names] if isinstance(names, str) else names
            return [osp.normpath(osp.join(osp.dirname(path), name)) for name in names]
    return []


def ancestors(path: str) -> List[str]:
    """Every file ``path`` inherits from, transitively."""
    found, todo = [], base_files(path)
    while todo:
        base = todo.pop()
        if base not in found:
            found.append(base)
            todo.extend(base_files(base))
    return found


def method_files(method: str) -> List[str]:
    """The method's configs and bases, and its pipelines where they are checked too."""
    pipelines = glob.glob(osp.join(CONFIGS, 'pipelines', f'{method}*.py')) \
        if method in PIPELINE_BASES else []
    return sorted(glob.glob(osp.join(CONFIGS, method, '*.py'))
                  + glob.glob(osp.join(CONFIGS, method, '_base_', '*.py')) + pipelines)


@pytest.mark.parametrize('method', sorted(BASES))
def test_every_variant_inherits_its_dataset_base(method):
    configs = sorted(glob.glob(osp.join(CONFIGS, method, '*.py')))
    assert configs
    for path in configs:
        with open(path) as f:
            if '_deprecation_' in f.read():  # a renamed config's old path: its own test file
                continue
        bases = [osp.join(CONFIGS, method, base)
                 for key, base in BASES[method].items() if key in osp.basename(path)]
        assert len(bases) == 1, f'{path}: no dataset base in BASES[{method!r}] matches its name'
        assert osp.isfile(bases[0]), bases[0]
        assert path == bases[0] or bases[0] in ancestors(path), (
            f'{path} does not inherit {bases[0]}: set `_base_` to it or to a config that does')


@pytest.mark.parametrize('method', sorted(PIPELINE_BASES))
def test_every_pipeline_inherits_the_method_pipeline(method):
    base = osp.join(CONFIGS, 'pipelines', PIPELINE_BASES[method])
    for path in glob.glob(osp.join(CONFIGS, 'pipelines', f'{method}*.py')):
        if path != base:
            assert base in ancestors(path), f'{path} does not inherit {base}'


@pytest.mark.parametrize('method', sorted(BASES))
def test_configs_are_short_and_their_prose_is_in_the_readme(method):
    bases = {osp.join(CONFIGS, method, base) for base in BASES[method].values()}
    for path in method_files(method):
        with open(path) as f:
            lines = f.read().splitlines()
        comments = [line for line in lines if line.lstrip().startswith('#')]
        assert path in bases or len(lines) <= MAX_LINES, (
            f'{path}: {len(lines)} lines; move what variants share into a base under '
            f'configs/{method}/_base_/')
        assert len(comments) <= MAX_COMMENT_LINES, (
            f'{path}: {len(comments)} comment lines; keep a short header and move the rest '
            f'to configs/{method}/README.md')
        assert not any('tools/' in line and '.py' in line for line in comments), (
            f'{path}: a command in a comment; commands belong in configs/{method}/README.md')
