"""Groups of images that share a class, for cross-image methods (MCIS, RPNet).

For every anchor image the partners are drawn as MCIS and RPNet do: pick one of the anchor's
positive classes uniformly, then one image labelled with that class uniformly (it may be the
anchor itself unless ``exclude_anchor``); repeat for each of the ``group_size - 1`` partners.

:class:`ClassPairSampler` yields one tuple ``(anchor, partner, ...)`` per anchor; anchors are
shuffled and split over ranks exactly as mmengine's ``DefaultSampler`` does, and the partner
of anchor ``a`` in epoch ``e`` depends only on ``(seed, e, a)`` -- not on the number of ranks
or the data-loader workers. ``ImageGroupDataset`` turns such a tuple into the list of packed
images, and ``group_collate`` flattens a batch of groups for the data preprocessor.
"""
from typing import Iterator, Optional, Sized, Tuple

import numpy as np
from mmengine.dataset import BaseDataset, DefaultSampler

from wsss_toolbox.registry import DATA_SAMPLERS


def dataset_label_matrix(dataset: Sized) -> np.ndarray:
    """(N, C) bool matrix of the image labels of an image-label dataset (or a wrapper)."""
    if hasattr(dataset, 'label_matrix'):
        return np.asarray(dataset.label_matrix(), dtype=bool)
    return np.stack(
        [np.asarray(dataset.get_data_info(i)['gt_label']) > 0 for i in range(len(dataset))])


class ClassIndex:
    """Which images carry which class, for vectorised partner sampling.

    Args:
        labels: (N, C) bool matrix of image labels.
    """

    def __init__(self, labels: np.ndarray) -> None:
        labels = np.asarray(labels, dtype=bool)
        if labels.ndim != 2:
            raise ValueError(f'labels must be an (N, C) matrix, got shape {labels.shape}')
        self.num_images, num_classes = labels.shape
        image_of_pair, class_of_pair = np.nonzero(labels)  # sorted by image
        self.positive_counts = labels.sum(axis=1)
        self.positive_offsets = np.concatenate([[0], np.cumsum(self.positive_counts)[:-1]])
        self.positive_classes = class_of_pair
        order = np.lexsort((image_of_pair, class_of_pair))  # class-major, images ascending
        self.member_images = image_of_pair[order]
        self.member_keys = class_of_pair[order].astype(np.int64) * self.num_images + \
            self.member_images
        self.member_counts = np.bincount(class_of_pair, minlength=num_classes)
        self.member_offsets = np.concatenate([[0], np.cumsum(self.member_counts)[:-1]])

    def sample_partners(self, anchors: np.ndarray, num_partners: int,
                        rng: np.random.Generator, exclude_anchor: bool = False) -> np.ndarray:
        """(len(anchors), num_partners) partner indices, each sharing a class with its anchor.

        An anchor without any positive class gets uniformly random partners; with
        ``exclude_anchor`` an anchor whose class no other image has is its own partner.
        """
        anchors = np.asarray(anchors, dtype=np.int64)
        shape = (len(anchors), num_partners)
        class_draw = rng.random(shape)
        image_draw = rng.random(shape)
        counts = self.positive_counts[anchors][:, None]
        labelled = counts > 0
        class_slot = np.minimum(np.floor(class_draw * counts), np.maximum(counts - 1, 0))
        class_slot = (self.positive_offsets[anchors][:, None] + class_slot).astype(np.int64)
        if len(self.positive_classes) == 0:
            return np.floor(image_draw * self.num_images).astype(np.int64)
        classes = self.positive_classes[np.minimum(class_slot, len(self.positive_classes) - 1)]
        members = self.member_counts[classes]
        anchor_column = np.broadcast_to(anchors[:, None], shape)
        if exclude_anchor:
            available = members - 1
            slot = np.floor(image_draw * np.maximum(available, 1)).astype(np.int64)
            anchor_slot = np.searchsorted(
                self.member_keys, classes.astype(np.int64) * self.num_images + anchor_column)
            anchor_slot -= self.member_offsets[classes]
            slot += slot >= anchor_slot
            partners = self.member_images[self.member_offsets[classes] + np.minimum(
                slot, members - 1)]
            partners = np.where(available > 0, partners, anchor_column)
        else:
            slot = np.minimum(np.floor(image_draw * members), members - 1).astype(np.int64)
            partners = self.member_images[self.member_offsets[classes] + slot]
        random_images = np.floor(image_draw * self.num_images).astype(np.int64)
        return np.where(labelled, partners, random_images).astype(np.int64)

    def anchor_partners(self, anchor: int, num_partners: int, seed: int, rounds: int = 1,
                        exclude_anchor: bool = False) -> np.ndarray:
        """(rounds, num_partners) partners of one anchor, deterministic from ``(seed, anchor)``.

        All rounds come from one generator seeded by ``(seed, anchor)``, round after round, so
        round 0 is the group :class:`ImageGroupDataset` gives an int index, and each further
        round draws fresh partners (map inference averages an anchor's maps over rounds).
        """
        if rounds < 1:
            raise ValueError(f'rounds must be >= 1, got {rounds}')
        rng = seed_sequence(seed, anchor)
        anchors = np.array([anchor], dtype=np.int64)
        return np.stack([self.sample_partners(anchors, num_partners, rng, exclude_anchor)[0]
                         for _ in range(rounds)])


def seed_sequence(*entropy: int) -> np.random.Generator:
    """A numpy generator seeded by integers (negative ones allowed)."""
    return np.random.default_rng([int(value) % (2**63) for value in entropy])


@DATA_SAMPLERS.register_module()
class ClassPairSampler(DefaultSampler):
    """Yield ``(anchor, partner_1, ..., partner_{G-1})`` groups sharing a class with the anchor.

    Behaves like mmengine's ``DefaultSampler`` over the anchors (shuffle with ``seed + epoch``,
    round-up, rank partition, ``set_epoch``); partners are drawn for all anchors from
    ``(seed, epoch)``, so they do not depend on the number of ranks. Use it with
    :class:`~wsss_toolbox.datasets.ImageGroupDataset` and ``collate_fn=dict(type=
    'group_collate')``.

    Args:
        dataset: an image-label dataset or an ``ImageGroupDataset``.
        group_size: images per group (anchor included); 2 = pairs.
        shuffle: shuffle the anchors every epoch.
        seed: random seed, shared by all ranks (None: synchronised random seed).
        round_up: pad the anchors to a multiple of the world size (as ``DefaultSampler``).
        exclude_anchor: never use the anchor as its own partner unless no other image has
            the chosen class (MCIS and RPNet allow it; default False).
    """

    def __init__(self,
                 dataset: Sized,
                 group_size: int = 2,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 round_up: bool = True,
                 exclude_anchor: bool = False) -> None:
        if group_size < 1:
            raise ValueError(f'group_size must be >= 1, got {group_size}')
        if isinstance(dataset, BaseDataset):
            raise TypeError(
                f'ClassPairSampler yields groups of indices, which {type(dataset).__name__} '
                "cannot take; wrap it: dataset=dict(type='ImageGroupDataset', dataset=...)")
        super().__init__(dataset, shuffle=shuffle, seed=seed, round_up=round_up)
        self.group_size = group_size
        self.exclude_anchor = exclude_anchor
        self.class_index = ClassIndex(dataset_label_matrix(dataset))

    def partner_table(self, epoch: Optional[int] = None) -> np.ndarray:
        """(N, group_size - 1) partners of every image for ``epoch`` (default: current)."""
        epoch = self.epoch if epoch is None else epoch
        rng = seed_sequence(self.seed, epoch)
        anchors = np.arange(self.class_index.num_images)
        return self.class_index.sample_partners(anchors, self.group_size - 1, rng,
                                                self.exclude_anchor)

    def __iter__(self) -> Iterator[Tuple[int, ...]]:
        anchors = list(super().__iter__())
        partners = self.partner_table()
        return iter([(anchor, *partners[anchor].tolist()) for anchor in anchors])
