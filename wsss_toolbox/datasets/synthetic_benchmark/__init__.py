"""Generator of the embedded synthetic benchmark (VOC layout; ``docs/synthetic_benchmark.md``).

Kept apart from the dataset classes, as mmseg keeps its dataset converters apart: the
dataset that reads the generated folder is :class:`wsss_toolbox.datasets.SyntheticWSSSDataset`,
and ``tools/dataset_converters/make_synthetic_benchmark.py`` is the command line.
"""
from .generator import (
                        REGION_KINDS,
                        SUMMARY_FILE,
                        VARIANTS,
                        SyntheticBenchmarkConfig,
                        format_summary,
                        generate_synthetic_benchmark,
)

__all__ = [
    'REGION_KINDS', 'SUMMARY_FILE', 'VARIANTS', 'SyntheticBenchmarkConfig', 'format_summary',
    'generate_synthetic_benchmark'
]
