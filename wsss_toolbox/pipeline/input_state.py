"""What a step read when it ran, and which of its per-image outputs are stale now.

Every finished step keeps ``.pipeline/<step>.files.json``:

* ``files`` -- the stat table of the step's :meth:`~PipelineStep.input_files` (a training
  step: its training set); their digest is in the step's record, and a change reruns it;
* for steps with per-image outputs (:attr:`~PipelineStep.per_image_outputs`):
  ``image_files`` (the stat table of every image's :meth:`~PipelineStep.image_inputs`) and
  ``images`` (``{img_id: signature}``, a hash of the image's record -- its labels -- and of
  the stats of its files; with :meth:`~PipelineStep.images_depend_on_each_other`, of every
  image's). An image whose signature changed, new to the list or without its output is
  remade alone; the outputs of images no longer listed are removed.
"""
import json
import os
import os.path as osp
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from .file_digest import (
    FileTable,
    digest_table,
    file_changes,
    record_key,
    signature,
    stat_files,
)

if TYPE_CHECKING:  # pragma: no cover
    from .base_step import PipelineStep

@dataclass
class StepFiles:
    """The files a step reads now (see the module docstring)."""
    files: FileTable
    image_files: Optional[FileTable] = None
    images: Optional[Dict[str, str]] = None
    shared: Optional[str] = None
    names: Optional[Dict[str, List[str]]] = None  # img_id -> its file names (not stored)
    # img_id -> its missing input files (an earlier step makes them in this run; not stored)
    missing: Optional[Dict[str, List[str]]] = None

    @property
    def digest(self) -> str:
        return digest_table(self.files)

    def to_json(self) -> dict:
        data: Dict[str, Any] = dict(files=self.files)
        if self.images is not None:
            data.update(image_files=self.image_files, images=self.images, shared=self.shared)
        return data


def read_step_files(step: 'PipelineStep', name_of) -> StepFiles:
    """Stat everything ``step`` reads; a missing required file raises, naming it."""
    state = StepFiles(files=stat_files(step.input_files(), name_of))
    if not step.per_image_outputs:
        return state
    samples, _ = step.samples()
    state.missing = {sample['img_id']: [] for sample in samples}
    tables = {sample['img_id']: stat_files(step.image_inputs(sample), name_of,
                                           state.missing[sample['img_id']])
              for sample in samples}
    state.missing = {img_id: paths for img_id, paths in state.missing.items() if paths}
    keys = {sample['img_id']: record_key(sample) for sample in samples}
    if step.images_depend_on_each_other():
        state.shared = signature([(img_id, keys[img_id], sorted(tables[img_id].items()))
                                  for img_id in sorted(tables)])
    state.image_files, state.names, state.images = {}, {}, {}
    for img_id, table in tables.items():
        state.image_files.update(table)
        state.names[img_id] = list(table)
        state.images[img_id] = signature(keys[img_id], sorted(table.items()), state.shared)
    return state


def stale_images(step: 'PipelineStep', now: StepFiles, recorded: dict,
                 upstream: Dict[str, str]) -> Dict[str, str]:
    """``{img_id: why}`` of the images whose output must be remade (or, no longer listed,
    removed): given the state recorded when it last ran and ``upstream`` -- images that an
    input step remakes in this run."""
    old_images = recorded.get('images') or {}
    old_table = recorded.get('image_files') or {}
    shared_changed = now.shared != recorded.get('shared')
    redo: Dict[str, str] = {}
    for img_id, sig in now.images.items():
        if img_id not in old_images:
            why = 'new in the image list'
        elif sig != old_images[img_id]:
            changes = file_changes(old_table, now.image_files, now.names[img_id])
            why = (', '.join(changes) if changes else
                   upstream[img_id] if img_id in upstream else
                   f'{now.missing[img_id][0]} does not exist' if img_id in now.missing else
                   'another image it reads changed' if shared_changed else
                   'its record (labels) or its list of files changed')
        elif any(not osp.exists(path) for path in step.image_outputs(img_id)):
            why = 'its output is missing'
        elif img_id in upstream:
            why = upstream[img_id]
        else:
            continue
        redo[img_id] = why
    for img_id in old_images:
        if img_id not in now.images:
            redo[img_id] = 'no longer in the image list'
    return redo


def remove_image_outputs(step: 'PipelineStep', img_ids) -> int:
    """Delete the outputs of ``img_ids`` (those that exist); their number."""
    removed = 0
    for img_id in img_ids:
        for path in step.image_outputs(img_id):
            if osp.exists(path):
                os.remove(path)
                removed += 1
    return removed


def read_files_record(path: str) -> Optional[dict]:
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)

