"""Dataset wrapper that returns groups of images sharing a class (cross-image methods), the
collate function that flattens a batch of groups, and a check of the batches a model gets."""
import functools
from typing import Any, List, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset, pseudo_collate
from mmengine.registry import FUNCTIONS

from wsss_toolbox.registry import DATASETS

from .samplers.class_pair_sampler import ClassIndex, dataset_label_matrix


@DATASETS.register_module()
class ImageGroupDataset:
    """Wrap an image-label dataset so that an item is a group ``[anchor, partner, ...]``.

    ``dataset[(a, p1, p2)]`` (what :class:`ClassPairSampler` yields) returns the three packed
    images; ``dataset[a]`` (any other sampler) draws the ``group_size - 1`` partners from
    ``(seed, a)`` -- the same ones every epoch; use ``ClassPairSampler`` for fresh partners
    each epoch. Every packed data sample gets the metainfo ``group_position`` (0 = anchor),
    ``group_size`` and ``group_anchor`` (the anchor's dataset index).

    Use with ``collate_fn=dict(type='group_collate')``: a batch of B groups of G images becomes
    ``dict(inputs=[B * G tensors], data_samples=[B * G samples])``, group after group, so a
    model can reshape its batch to (B, G, ...).

    Args:
        dataset: the image-label dataset (config dict or instance).
        group_size: images per group when indexed by an int.
        seed: seed of the partners drawn for int indices.
        exclude_anchor: see :class:`ClassPairSampler`.
        **dataset_overrides: set on the wrapped dataset's config (``data_root``, ``pipeline``,
            ``ann_file`` ...), so ``train_dataloader.dataset.data_root=...`` reaches the images
            as it does without the wrapper.

    Raises:
        TypeError: overrides given with an already built dataset.
    """

    def __init__(self,
                 dataset: Union[dict, BaseDataset],
                 group_size: int = 2,
                 seed: int = 0,
                 exclude_anchor: bool = False,
                 **dataset_overrides) -> None:
        if dataset_overrides:
            if not isinstance(dataset, dict):
                raise TypeError(
                    f'{type(self).__name__}: {sorted(dataset_overrides)} can only be set on a '
                    f'dataset config, not on a built {type(dataset).__name__}')
            dataset = dict(dataset, **dataset_overrides)
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
        if group_size < 1:
            raise ValueError(f'group_size must be >= 1, got {group_size}')
        self.dataset = dataset
        self.group_size = group_size
        self.seed = seed
        self.exclude_anchor = exclude_anchor
        self._class_index = None

    @property
    def metainfo(self) -> dict:
        return self.dataset.metainfo

    def full_init(self) -> None:
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(idx)

    def label_matrix(self) -> np.ndarray:
        return dataset_label_matrix(self.dataset)

    def __len__(self) -> int:
        return len(self.dataset)

    def group_of(self, anchor: int) -> List[int]:
        """Anchor and its partners for an int index (deterministic from ``(seed, anchor)``)."""
        if self._class_index is None:
            self._class_index = ClassIndex(self.label_matrix())
        partners = self._class_index.anchor_partners(
            anchor, self.group_size - 1, self.seed, exclude_anchor=self.exclude_anchor)[0]
        return [int(anchor), *partners.tolist()]

    def __getitem__(self, idx: Union[int, Sequence[int]]) -> List[dict]:
        if isinstance(idx, (tuple, list)):
            indices = [int(i) for i in idx]
        else:
            indices = self.group_of(int(idx) % len(self))
        group = []
        for position, index in enumerate(indices):
            item = self.dataset[index]
            item['data_samples'].set_metainfo(
                dict(group_position=position, group_size=len(indices), group_anchor=indices[0]))
            group.append(item)
        return group

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(group_size={self.group_size}, seed={self.seed}, '
                f'dataset={type(self.dataset).__name__} of {len(self)} images)')


@FUNCTIONS.register_module()
def group_collate(data_batch: Sequence[Union[dict, Sequence[dict]]]) -> dict:
    """Flatten a batch of groups (lists of packed images) and ``pseudo_collate`` it."""
    flat = []
    for group in data_batch:
        flat.extend([group] if isinstance(group, dict) else group)
    return pseudo_collate(flat)


def check_group_batch(data: Any, owner: str) -> None:
    """Stop with a clear error when a training batch is not what :func:`group_collate` makes
    (one ``dict(inputs=[...], data_samples=[...])``).

    Another collate function (``pseudo_collate``, ``default_collate``) turns a batch of
    :class:`ImageGroupDataset` groups into a list with one dict per group position, which
    mmengine's data preprocessor rejects with ``list indices must be integers or slices, not
    str`` and no hint of the cause.

    Raises:
        TypeError: naming ``owner``, what the batch is and the config key that fixes it.
    """
    if isinstance(data, dict):
        return
    if isinstance(data, (list, tuple)):
        kinds = '/'.join(sorted({type(item).__name__ for item in data})) or 'item'
        what = f'a {type(data).__name__} of {len(data)} {kinds}{"" if len(data) == 1 else "s"}'
        if data and all(isinstance(item, dict) for item in data):
            what += ' (one per group position)'
    else:
        what = f'a {type(data).__name__}'
    raise TypeError(
        f'{owner} trains on groups of images, but its training batch is {what}, not the '
        "dict(inputs=[...], data_samples=[...]) that group_collate makes of the groups of "
        "ImageGroupDataset: set train_dataloader.collate_fn=dict(type='group_collate') in the "
        'config (another collate function, e.g. pseudo_collate, keeps the groups apart).')


def _check_group_batch_hook(module, args: tuple, kwargs: dict, owner: str) -> None:
    data = args[0] if args else kwargs.get('data')
    training = args[1] if len(args) > 1 else kwargs.get('training', False)
    if training:
        check_group_batch(data, owner)


def check_group_batches(model, owner: str) -> None:
    """Make ``model``'s data preprocessor run :func:`check_group_batch` on every training
    batch. A forward pre-hook rather than a ``train_step`` override: mmengine's DDP wrapper
    calls the data preprocessor without the model's ``train_step``."""
    model.data_preprocessor.register_forward_pre_hook(
        functools.partial(_check_group_batch_hook, owner=owner), with_kwargs=True)
