"""Cheap signatures of the files a pipeline step reads.

A file is known by its *name* (its path relative to the pipeline's ``data_root``, or
``<work_dir>/...`` inside the work dir, else its absolute path, so a copied work dir keeps its
signatures) and its *stat*: ``[size, mtime_ns]``, plus a SHA-256 prefix of the contents for the
small files read whole (e.g. a partner list), where an edit that keeps the size within one
timestamp tick would go unseen. What a dataset parsed from its list, label and class files
enters as *values* (``record of <img_id>``: the image's labels ...; ``class names``), hashed
by content: an edit to those files counts for the images whose record it changes, and only
for them. One ``os.stat`` per file: 10,582 files take well under a second
(``tools/analysis/benchmark_fingerprint.py``, ``docs/benchmarks.md``).
"""
import hashlib
import json
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

#: ``{name: [size, mtime_ns] | [size, mtime_ns, content hash] | [value hash]}``
FileTable = Dict[str, list]

#: record keys that are no property of the image (mmengine's position in the dataset)
_NOT_IMAGE_KEYS = frozenset({'sample_idx'})

#: how many file names a message shows before "... and N more"
NAMED_IN_MESSAGES = 3


@dataclass
class InputFiles:
    """The files a step (or one image's output) is made from.

    ``required`` must exist (a missing one is an error naming it); ``optional`` may be missing
    (left out of the table, so one that appears or goes away changes the digest);
    ``annotations`` are small files read whole, whose contents are hashed too; ``values``
    are named JSON-able values read from files (a dataset's parsed records), hashed.
    """
    required: List[str] = field(default_factory=list)
    optional: List[str] = field(default_factory=list)
    annotations: List[str] = field(default_factory=list)
    values: Dict[str, Any] = field(default_factory=dict)

    def __add__(self, other: 'InputFiles') -> 'InputFiles':
        return InputFiles(self.required + other.required, self.optional + other.optional,
                          self.annotations + other.annotations,
                          dict(self.values, **other.values))

    @classmethod
    def of_records(cls, records: Iterable[dict]) -> 'InputFiles':
        """What dataset items read: ``img_path`` (required), every other ``*_path`` (mask,
        saliency map, pseudo label; optional: datasets keep the path of a missing saliency
        map, whose reader names it) and, as the value ``record of <img_id>``, the rest of
        the item (its labels: what the list and label files say of it)."""
        files = cls()
        for record in records:
            for key, value in record.items():
                if isinstance(value, str) and key.endswith('_path'):
                    (files.required if key == 'img_path' else files.optional).append(value)
            files.values[f'record of {record["img_id"]}'] = record_key(record)
        return files


def _plain(value: Any) -> Any:
    return value.tolist() if hasattr(value, 'tolist') else value


def record_key(record: dict) -> dict:
    """What of a dataset item decides an output besides its files: its id, labels ..."""
    return {key: _plain(value) for key, value in record.items()
            if not key.endswith('_path') and key not in _NOT_IMAGE_KEYS}


class FileNamer:
    """Short, copy-proof names of paths: relative to the first root that holds them (the
    longest root first), with that root's prefix; absolute paths elsewhere."""

    def __init__(self, roots: Sequence[Tuple[str, Optional[str]]]) -> None:
        roots = [(prefix, osp.abspath(root)) for prefix, root in roots if root]
        self.roots = sorted(roots, key=lambda item: -len(item[1]))
        self._cwd = os.getcwd()

    def __call__(self, path: str) -> str:
        path = path if osp.isabs(path) else osp.join(self._cwd, path)
        path = osp.normpath(path)
        for prefix, root in self.roots:
            if path.startswith(root + os.sep):
                return prefix + path[len(root) + 1:]
        return path


def content_hash(path: str) -> str:
    """SHA-256 (first 16 hex digits) of a file's contents."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()[:16]


def stat_files(files: InputFiles, name_of=None,
               missing: Optional[List[str]] = None) -> FileTable:
    """``{name: stat}`` of ``files``; a missing required (or annotation) file is a
    ``FileNotFoundError`` naming it and counting the others missing, or, given a
    ``missing`` list, appended to it (and left out of the table)."""
    name_of = name_of or (lambda path: path)
    table: FileTable = {}
    collect = missing is not None
    missing = [] if missing is None else missing
    for paths, required in ((files.required, True), (files.optional, False)):
        for path in paths:
            try:
                info = os.stat(path)
            except FileNotFoundError:
                if required:
                    missing.append(path)
                continue
            table[name_of(path)] = [info.st_size, info.st_mtime_ns]
    for path in files.annotations:
        try:
            info = os.stat(path)
            table[name_of(path)] = [info.st_size, info.st_mtime_ns, content_hash(path)]
        except FileNotFoundError:
            missing.append(path)
    for name, value in files.values.items():
        table[name] = [signature(value)]
    if missing and not collect:
        raise FileNotFoundError(missing_message(missing))
    return table


def missing_message(missing: Sequence[str]) -> str:
    """``'input file X does not exist (N more input files are missing too)'``."""
    more = f' ({len(missing) - 1} more input files are missing too)' if len(missing) > 1 \
        else ''
    return f'input file {missing[0]} does not exist{more}'


def digest_table(table: FileTable) -> str:
    """SHA-256 of a file table (order-free)."""
    text = json.dumps(sorted(table.items()), separators=(',', ':'))
    return hashlib.sha256(text.encode()).hexdigest()


def signature(*parts) -> str:
    """A short hash of JSON-able parts (one image's record and file stats)."""
    text = json.dumps(parts, sort_keys=True, separators=(',', ':'), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def file_changes(old: FileTable, new: FileTable,
                 names: Optional[Iterable[str]] = None) -> List[str]:
    """``'name (modified|new|gone)'`` of the files that differ (over ``names``, default all)."""
    names = sorted(set(old) | set(new)) if names is None else names
    changes = []
    for name in names:
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        kind = 'new' if before is None else 'gone' if after is None else 'modified'
        changes.append(f'{name} ({kind})')
    return changes


def name_some(items: Sequence[str], limit: int = NAMED_IN_MESSAGES) -> str:
    """The first ``limit`` items joined, and how many more."""
    shown = ', '.join(items[:limit])
    return shown + (f' and {len(items) - limit} more' if len(items) > limit else '')


def describe_file_changes(old: FileTable, new: FileTable) -> str:
    """``'2 of 1,500 entries: a.jpg (modified), b.png (new)'`` ('' when none differs)."""
    changes = file_changes(old, new)
    if not changes:
        return ''
    return f'{len(changes)} of {len(set(old) | set(new)):,} entries: {name_some(changes)}'
