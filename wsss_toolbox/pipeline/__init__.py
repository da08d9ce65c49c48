"""The three-stage job (classifier -> maps and pseudo labels -> DeepLab) behind tools/pipeline.py."""
from .runner import PipelineRunner, load_stage_config

__all__ = ['PipelineRunner', 'load_stage_config']
