"""The core pipeline steps, gathered from their modules: train a classifier
(:mod:`.train_steps`), infer / evaluate maps (:mod:`.map_steps`), make and refine pseudo
labels (:mod:`.label_steps`), train and test a segmentor (:mod:`.train_steps`), summarise
(:mod:`.summary_step`). Methods add their own steps the same way
(``PIPELINE_STEPS.register_module()``), in their folder or in a plugin; importing them from
here keeps working."""
# the latest checkpoint of a work dir, looked up inside it (shared with tools/train.py)
from wsss_toolbox.engine.checkpoint import latest_checkpoint_in, load_model_checkpoint

from .base_step import PipelineStep, SummaryRow, missing_image_files, summary_row_dict
from .file_digest import InputFiles
from .label_steps import (
    LabelFolderStep,
    MakePseudoLabels,
    RefineLabels,
    folder_ignored_fraction,
    label_image_inputs,
)
from .map_steps import EvaluateMaps, InferMaps, check_split, map_step, mask_files, percent
from .runner import write_json
from .summary_step import Summarize, format_table, format_warnings
from .train_steps import TestSegmentor, TrainClassifier, TrainSegmentor, TrainStep

_percent = percent  # its name before the steps had modules of their own

__all__ = [
    'TrainStep', 'TrainClassifier', 'TrainSegmentor', 'TestSegmentor', 'InferMaps',
    'EvaluateMaps', 'LabelFolderStep', 'MakePseudoLabels', 'RefineLabels', 'Summarize',
    'PipelineStep', 'SummaryRow', 'InputFiles', 'check_split', 'folder_ignored_fraction',
    'format_table', 'format_warnings', 'label_image_inputs', 'latest_checkpoint_in',
    'load_model_checkpoint', 'map_step', 'mask_files', 'missing_image_files', 'percent',
    'summary_row_dict', 'write_json'
]
