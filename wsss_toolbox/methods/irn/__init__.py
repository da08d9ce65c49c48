"""IRN-style refinement (Ahn, Cho, Kwak, CVPR 2019: inter-pixel relations): seed labels,
a boundary network trained on pixel-pair affinities, and a random walk that propagates any
method's maps into pseudo labels (``configs/irn/``).

Importing this package registers:

* :mod:`.seeds` -- ``IRNSeedLabelGenerator`` (``LABEL_GENERATORS``), :func:`make_seed_label`;
* :mod:`.affinity` -- pixel pairs within a radius, their labels, affinities from a boundary
  map, IRN's affinity loss;
* :mod:`.models` -- ``BoundaryHead`` and ``AffinityNet`` (``MODELS``);
* :mod:`.transforms` -- ``LoadSeedLabels`` (``TRANSFORMS``);
* :mod:`.random_walk` -- dense affinity, row-stochastic transition matrix, 2^t steps, labels;
* :mod:`.steps` -- ``IRNSeeds``, ``TrainAffinityNet``, ``RandomWalkLabels``
  (``PIPELINE_STEPS``).
"""
from .affinity import (
                       affinity_labels,
                       affinity_loss,
                       boundary_to_affinity,
                       pair_offsets,
                       path_points,
)
from .inference import image_boundary, load_strided_maps, refine_sample
from .models import AffinityNet, BoundaryHead
from .random_walk import (
                       dense_affinity,
                       random_walk_label,
                       random_walk_maps,
                       transition_matrix,
                       walk,
                       walk_to_label,
)
from .seeds import IRNSeedLabelGenerator, has_confident_foreground, make_seed_label
from .steps import IRNSeeds, RandomWalkLabels, TrainAffinityNet
from .transforms import LoadSeedLabels

__all__ = [
    'affinity_labels', 'affinity_loss', 'boundary_to_affinity', 'pair_offsets',
    'path_points', 'image_boundary', 'load_strided_maps', 'refine_sample', 'AffinityNet',
    'BoundaryHead', 'dense_affinity', 'random_walk_label', 'random_walk_maps',
    'transition_matrix', 'walk', 'walk_to_label', 'IRNSeedLabelGenerator',
    'has_confident_foreground', 'make_seed_label', 'IRNSeeds', 'RandomWalkLabels',
    'TrainAffinityNet', 'LoadSeedLabels'
]
