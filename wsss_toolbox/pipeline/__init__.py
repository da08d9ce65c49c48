"""The pipeline: registered steps run in config order, cached by fingerprint (tools/pipeline.py)."""
from .base_step import PipelineStep, SummaryRow
from .config import PipelineConfigError, check_pipeline_config, load_pipeline_config
from .lid_steps import EvaluatePeakIoU, TestSegmentorLID, WriteSegmentationResults
from .lock import WorkDirLock, WorkDirLockedError
from .runner import PipelineRunner, read_json, write_json
from .steps import (
                    EvaluateMaps,
                    InferMaps,
                    LabelFolderStep,
                    MakePseudoLabels,
                    RefineLabels,
                    Summarize,
                    TestSegmentor,
                    TrainClassifier,
                    TrainSegmentor,
                    TrainStep,
                    format_table,
                    latest_checkpoint_in,
)

__all__ = [
    'PipelineStep', 'SummaryRow', 'PipelineConfigError', 'check_pipeline_config',
    'load_pipeline_config',
    'WorkDirLock', 'WorkDirLockedError', 'PipelineRunner', 'read_json', 'write_json',
    'EvaluateMaps', 'InferMaps', 'LabelFolderStep', 'MakePseudoLabels', 'RefineLabels', 'Summarize',
    'TestSegmentor', 'TrainClassifier', 'TrainSegmentor', 'TrainStep', 'format_table',
    'latest_checkpoint_in', 'EvaluatePeakIoU', 'TestSegmentorLID', 'WriteSegmentationResults'
]
