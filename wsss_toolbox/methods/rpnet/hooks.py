"""Check of the class-pair sampler's group size against the training data: a group size larger
than a class's image count is reported before training instead of silently repeating images."""
import logging
from typing import List

import numpy as np
from mmengine.hooks import Hook
from mmengine.logging import print_log

from wsss_toolbox.datasets.samplers.class_pair_sampler import dataset_label_matrix
from wsss_toolbox.registry import HOOKS


def classes_smaller_than(labels: np.ndarray, group_size: int, class_names: List[str]) -> List[str]:
    """Names (with image counts) of the classes that label fewer than ``group_size`` images
    but at least one."""
    counts = np.asarray(labels, dtype=bool).sum(axis=0)
    names = list(class_names) if class_names else [str(i) for i in range(len(counts))]
    return [f'{names[c]} ({counts[c]} image{"s" if counts[c] != 1 else ""})'
            for c in range(len(counts)) if 0 < counts[c] < group_size]


@HOOKS.register_module()
class GroupSizeCheckHook(Hook):
    """Before training, warn once if the class-pair sampler's group size exceeds the number of
    training images of some class: the groups drawn for such a class repeat images (the
    partners are drawn with replacement, the anchor included), so RPNet compares an image
    with itself more often than the group size suggests.

    Args:
        strict: raise a ``ValueError`` instead of warning.
    """

    priority = 'VERY_LOW'

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict

    def before_train(self, runner) -> None:
        loader = runner.train_dataloader
        group_size = getattr(loader.sampler, 'group_size', None)
        if group_size is None:
            group_size = getattr(loader.dataset, 'group_size', None)
        if group_size is None or group_size < 2:
            return
        dataset = loader.dataset
        names = list(dataset.metainfo.get('classes', ()))
        small = classes_smaller_than(dataset_label_matrix(dataset), group_size, names)
        if not small:
            return
        message = (f'Group size {group_size} is larger than the number of training images of '
                   f'class(es) {", ".join(small)}: their groups repeat images. Lower '
                   'group_size (sampler and ImageGroupDataset) or add images of these classes.')
        if self.strict:
            raise ValueError(message)
        print_log(message, logger='current', level=logging.WARNING)
