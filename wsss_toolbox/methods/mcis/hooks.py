"""MCIS training hook: the contrastive warm-up epoch and checks of the pair data."""
import warnings
from typing import List

import numpy as np
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from wsss_toolbox.datasets import ImageGroupDataset
from wsss_toolbox.datasets.samplers.class_pair_sampler import ClassPairSampler
from wsss_toolbox.registry import HOOKS


def single_image_classes(labels: np.ndarray, img_ids: List[str],
                         class_names: List[str]) -> List[str]:
    """``'class (image)'`` for every class exactly one image carries (its partner is itself)."""
    labels = np.asarray(labels, dtype=bool)
    found = []
    for k in np.flatnonzero(labels.sum(axis=0) == 1):
        image = int(np.flatnonzero(labels[:, k])[0])
        name = class_names[k] if k < len(class_names) else str(k)
        found.append(f'{name} ({img_ids[image]})')
    return found


@HOOKS.register_module()
class MCISTrainingHook(Hook):
    """Hands the 0-based epoch to :class:`MCISHead` (``head.epoch``, for the contrastive
    warm-up of the authors' code) and checks the pair data before training.

    Before training: the train dataset must be an :class:`ImageGroupDataset` (else an error
    naming ``train_dataloader.dataset``); a sampler other than :class:`ClassPairSampler`
    gives a warning naming ``train_dataloader.sampler`` (the partners would stay the same
    every epoch); a class that a single image carries gives one warning naming the image
    (its only partner for that class is itself, which MCIS allows).
    """
    priority = 'VERY_HIGH'

    @staticmethod
    def head_of(runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        return model.head

    def before_train(self, runner) -> None:
        loader = runner.train_dataloader
        dataset = loader.dataset
        if not isinstance(dataset, ImageGroupDataset):
            raise TypeError(
                f'MCIS trains on image pairs but train_dataloader.dataset is '
                f"{type(dataset).__name__}; wrap it: dataset=dict(type='ImageGroupDataset', "
                "group_size=2, dataset=...), sampler=dict(type='ClassPairSampler'), "
                "collate_fn=dict(type='group_collate').")
        if not isinstance(loader.sampler, ClassPairSampler):
            warnings.warn(
                f'train_dataloader.sampler is {type(loader.sampler).__name__}, not '
                'ClassPairSampler: every image keeps the same partner in every epoch '
                "(ImageGroupDataset draws it from its seed). Use sampler=dict(type="
                "'ClassPairSampler') for fresh pairs each epoch.", stacklevel=2)
        labels = dataset.label_matrix()
        img_ids = [dataset.get_data_info(i)['img_id'] for i in range(len(dataset))]
        lonely = single_image_classes(labels, img_ids,
                                      list(dataset.metainfo.get('classes', ())))
        if lonely:
            warnings.warn(
                f'{len(lonely)} class(es) have a single training image, which is then paired '
                f'with itself for that class (allowed; the authors\' sampler allows it too): '
                f"{', '.join(lonely[:10])}{' ...' if len(lonely) > 10 else ''}",
                stacklevel=2)

    def before_train_epoch(self, runner) -> None:
        self.head_of(runner).epoch = runner.epoch
