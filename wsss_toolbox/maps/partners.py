"""Partner groups of cross-image methods (MCIS, RPNet): listed or drawn, per anchor.

With partners, every view (scale x flip) of the anchor goes through ``model.test_step`` together
with the same view of its partner images, as one group laid out as
:func:`~wsss_toolbox.datasets.group_collate` lays out a training batch: the views' groups one
after another, each ``[anchor, partner_1, ...]``, every data sample carrying the metainfo
``group_position`` (0 = anchor), ``group_size``, ``group_anchor`` (the anchor's index in
``samples``) and ``img_id`` (:func:`~wsss_toolbox.maps.tta.fused_maps_and_scores`). Only the
anchor's ``pred_maps`` are kept.

Partners are either listed (``partners=``: a dict or a JSON file ``img_id -> [partner ids]``,
or ``img_id -> [[ids of round 1], [ids of round 2], ...]``; :func:`load_partner_lists`) or
drawn (``num_partners=``: images sharing a class with the anchor, as
:class:`~wsss_toolbox.datasets.ClassPairSampler` draws them, deterministic for
``(partner_seed, anchor index)``). With ``rounds`` R > 1 the anchor goes through R groups with
different partners; :func:`~wsss_toolbox.maps.inference.infer_maps` averages its fused maps
over the rounds before the normalisation. :class:`PartnerTable` gives every anchor's groups.
"""
import json
import os.path as osp
from typing import Dict, List, Mapping, Sequence, Union

import numpy as np

from wsss_toolbox.datasets.samplers.class_pair_sampler import ClassIndex

PartnerSource = Union[None, str, Mapping[str, Sequence]]


def load_partner_lists(partners: Union[str, Mapping[str, Sequence]]) -> Dict[str, List[List[str]]]:
    """``img_id -> [[partner ids of round 1], ...]`` from a dict or a JSON file.

    A value that is a list of ids is one round (one group); a list of lists gives one group
    per round.
    """
    where = 'partners'
    if isinstance(partners, str):
        where = f'partner file "{partners}"'
        if not osp.isfile(partners):
            raise FileNotFoundError(f'{where} does not exist')
        with open(partners) as f:
            partners = json.load(f)
    if not isinstance(partners, Mapping):
        raise TypeError(f'{where} must map image ids to partner id lists, got '
                        f'{type(partners).__name__}')
    groups = {}
    for img_id, value in partners.items():
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise ValueError(f'{where}: the partners of {img_id!r} must be a list of image '
                             f'ids or a list of such lists, got {value!r}')
        rounds = [value] if all(isinstance(item, str) for item in value) else value
        if not rounds or not all(
                isinstance(ids, Sequence) and not isinstance(ids, str)
                and all(isinstance(item, str) for item in ids) for ids in rounds):
            raise ValueError(f'{where}: the partners of {img_id!r} must be a list of image '
                             f'ids or a non-empty list of such lists, got {value!r}')
        groups[str(img_id)] = [list(ids) for ids in rounds]
    return groups


class PartnerTable:
    """The partner groups (indices into ``samples``) of every anchor, listed or drawn."""

    def __init__(self, samples: Sequence[Dict], partners: PartnerSource, num_partners: int,
                 rounds: int, seed: int, exclude_anchor: bool) -> None:
        if rounds < 1:
            raise ValueError(f'rounds must be >= 1, got {rounds}')
        if num_partners < 0:
            raise ValueError(f'num_partners must be >= 0, got {num_partners}')
        if partners is not None and num_partners:
            raise ValueError('give either partners (listed partners) or num_partners '
                             '(drawn partners), not both')
        if partners is not None and rounds != 1:
            raise ValueError('rounds applies to drawn partners (num_partners); with listed '
                             'partners give one list per round: img_id -> [[...], [...]]')
        self.samples = samples
        self.index_of = {sample['img_id']: index for index, sample in enumerate(samples)}
        self.listed = None if partners is None else load_partner_lists(partners)
        self.num_partners, self.rounds = num_partners, rounds
        self.seed, self.exclude_anchor = seed, exclude_anchor
        self.class_index = None
        if self.listed is None:
            self.class_index = ClassIndex(
                np.stack([np.asarray(sample['gt_label']) > 0 for sample in samples]))

    def groups(self, anchor: int) -> List[List[int]]:
        """Per round, the partners (sample indices) of the anchor ``samples[anchor]``."""
        if self.listed is None:
            return self.class_index.anchor_partners(
                anchor, self.num_partners, self.seed, self.rounds,
                self.exclude_anchor).tolist()
        img_id = self.samples[anchor]['img_id']
        if img_id not in self.listed:
            raise ValueError(f'the partner lists have no entry for image {img_id!r}')
        groups = []
        for ids in self.listed[img_id]:
            unknown = [partner for partner in ids if partner not in self.index_of]
            if unknown:
                raise ValueError(f'partners {unknown} of image {img_id!r} are not among the '
                                 'samples')
            groups.append([self.index_of[partner] for partner in ids])
        return groups
