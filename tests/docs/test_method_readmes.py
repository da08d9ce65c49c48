"""The documentation keeps mmsegmentation's shape and its links resolve.

Every ``configs/<folder>/README.md`` is laid out as mmseg's method READMEs: a ``# Title``, a
``> [Paper title](url)`` line, ``## Introduction``, ``## Results and models`` with a results
table whose rows link their config, and ``## Citation`` with a ``bibtex`` block
(``configs/pipelines/`` names no paper: it needs the table only). Every relative link of
README.md, docs/*.md and configs/**/README.md points at a file that exists, and a ``#anchor``
into a Markdown file at one of its headings. Only the Markdown text is read.
"""
import glob
import os.path as osp
import re
import unicodedata

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIRS = sorted(d for d in glob.glob(osp.join(REPO, 'configs', '*'))
                     if osp.isdir(d) and osp.basename(d) != '_base_')
NO_PAPER = {'pipelines', 'pretrain'}  # not a method: no paper line, no citation
PAPER_LINE = re.compile(r'^> \[[^\]]+\]\(https?://[^)\s]+\)', re.M)
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)|<a href="([^"]+)"')
CODE = re.compile(r'```.*?```|`[^`\n]*`', re.S)
TABLE_ROW = re.compile(r'^\|.*\|\s*$', re.M)
CITES_NOTES = re.compile(r'\bspecs?\b|shared/', re.I)


def _read(path: str) -> str:
    with open(path, encoding='utf-8') as f:
        return f.read()


def _sections(text: str) -> dict:
    """``{'## Heading': body}`` of the second-level sections (code blocks left out)."""
    text = re.sub(r'```.*?```', '', text, flags=re.S)
    parts = re.split(r'^(## .+)$', text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation but '_' and '-' dropped,
    spaces to '-'."""
    heading = re.sub(r'[`*]|<[^>]+>', '', heading.strip()).lower()
    return ''.join(c for c in heading if c in ' -_' or unicodedata.category(c)[0] in 'LN'
                   ).replace(' ', '-')


def _anchors(path: str) -> set:
    text = re.sub(r'```.*?```', '', _read(path), flags=re.S)
    slugs, seen = set(), {}
    for heading in re.findall(r'^#{1,6} (.+)$', text, flags=re.M):
        slug = _slug(heading)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        slugs.add(slug if n == 0 else f'{slug}-{n}')
    return slugs


def _doc_files() -> list:
    files = [osp.join(REPO, 'README.md')] + sorted(glob.glob(osp.join(REPO, 'docs', '*.md')))
    return files + sorted(glob.glob(osp.join(REPO, 'configs', '**', 'README.md'),
                                    recursive=True))


def broken_links(path: str) -> list:
    """The relative links of one Markdown file that point nowhere, as 'target (why)'."""
    broken = []
    for match in LINK.finditer(CODE.sub('', _read(path))):
        target = match.group(1) or match.group(2)
        if re.match(r'[a-z]+:', target):  # http(s), mailto: not checked here
            continue
        file_part, _, anchor = target.partition('#')
        resolved = osp.normpath(osp.join(osp.dirname(path), file_part)) if file_part else path
        if not osp.exists(resolved):
            broken.append(f'{target} (no such file)')
        elif anchor and resolved.endswith('.md') and anchor not in _anchors(resolved):
            broken.append(f'{target} (no heading #{anchor})')
    return broken


@pytest.mark.parametrize('folder', [osp.basename(d) for d in CONFIG_DIRS])
def test_config_folder_readme_has_mmseg_layout(folder):
    path = osp.join(REPO, 'configs', folder, 'README.md')
    assert osp.isfile(path), f'configs/{folder}/ has no README.md'
    text = _read(path)
    name = f'configs/{folder}/README.md'
    assert text.startswith('# '), f'{name}: the first line is not a "# Title"'
    sections = _sections(text)
    assert '## Results and models' in sections, f'{name}: no "## Results and models" section'
    if folder not in NO_PAPER:
        assert PAPER_LINE.search(text), f'{name}: no "> [Paper title](https://...)" line'
        order = [h for h in sections if h in ('## Introduction', '## Results and models',
                                               '## Citation')]
        assert order == ['## Introduction', '## Results and models', '## Citation'], (
            f'{name}: sections {order}, expected Introduction, Results and models, Citation')
        citation = text.split('\n## Citation', 1)[1]
        assert re.search(r'```bibtex\n@\w+\{[^,\n]+,.*?\n```', citation, re.S), (
            f'{name}: the Citation section has no ```bibtex block with an entry')
    # the results table: a header with a "config" column and rows that link their config
    rows = TABLE_ROW.findall(sections['## Results and models'])
    header = next((r for r in rows if re.search(r'\|\s*config\s*\|', r, re.I)), None)
    assert header, f'{name}: no results table with a "config" column'
    linked = [r for r in rows if re.search(r'\]\([^)\s]+\.py\)', r)]
    assert linked, f'{name}: no results row links its config'


@pytest.mark.parametrize('path', _doc_files(), ids=lambda p: osp.relpath(p, REPO))
def test_relative_links_resolve(path):
    broken = broken_links(path)
    assert not broken, f'{osp.relpath(path, REPO)}: broken links: {broken}'


def test_broken_link_and_anchor_are_found(tmp_path):
    """The checker itself: a missing file and a missing heading are both reported."""
    (tmp_path / 'a.md').write_text('# Top\n\n## Some `code_name` section, too\n')
    page = tmp_path / 'b.md'
    page.write_text('[ok](a.md#some-code_name-section-too) [no](missing.md) [bad](a.md#nowhere) '
                    '[web](https://example.org/x) `[in code](missing2.md)`\n')
    assert broken_links(str(page)) == ['missing.md (no such file)',
                                       'a.md#nowhere (no heading #nowhere)']


def test_readmes_cite_papers_and_code_not_notes():
    """READMEs and the docs index cite papers and public code, never internal notes."""
    paths = sorted(glob.glob(osp.join(REPO, 'configs', '**', 'README.md'), recursive=True))
    paths.append(osp.join(REPO, 'docs', 'index.md'))
    found = [f'{osp.relpath(p, REPO)}: {m.group(0)!r}' for p in paths if osp.isfile(p)
             for m in CITES_NOTES.finditer(_read(p))]
    assert not found, found


def test_docs_index_is_linked_from_the_readme():
    assert osp.isfile(osp.join(REPO, 'docs', 'index.md'))
    assert '](docs/index.md)' in _read(osp.join(REPO, 'README.md'))
