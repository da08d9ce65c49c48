"""Class-pair sampler and image-group dataset for cross-image methods (MCIS, RPNet)."""
import os.path as osp

import mmengine.dataset.sampler as mmengine_sampler
import numpy as np
import pytest
import torch
from mmengine.runner import Runner

from datasets.dataset_files import write_image, write_text, wsss_scope  # noqa: F401
from wsss_toolbox.datasets import ClassIndex, ClassPairSampler, ImageGroupDataset, group_collate
from wsss_toolbox.registry import DATA_SAMPLERS


class LabelsOnly:
    """The part of an image-label dataset the sampler reads."""

    def __init__(self, labels):
        self.labels = np.asarray(labels, dtype=bool)

    def __len__(self):
        return len(self.labels)

    def get_data_info(self, idx):
        return dict(gt_label=self.labels[idx].astype(np.float32))


def random_labels(num_images=37, num_classes=6, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.random((num_images, num_classes)) < 0.25
    labels[:, num_classes - 1] = False
    empty = np.flatnonzero(~labels.any(1))
    labels[empty, rng.integers(num_classes - 1, size=len(empty))] = True  # every image: 1+
    labels[7, :] = False
    labels[7, num_classes - 1] = True  # the last class occurs in image 7 only
    return labels


def test_every_group_shares_a_class_with_its_anchor():
    labels = random_labels()
    sampler = ClassPairSampler(LabelsOnly(labels), group_size=4, seed=3)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        groups = list(sampler)
        assert len(groups) == len(labels)
        assert sorted(group[0] for group in groups) == list(range(len(labels)))
        for anchor, *partners in groups:
            assert len(partners) == 3
            for partner in partners:
                assert (labels[anchor] & labels[partner]).any(), (anchor, partner)
    assert all(partners == [7, 7, 7] for anchor, *partners in groups if anchor == 7)


def test_partner_distribution_follows_class_then_image():
    """Anchor with classes {0, 1}: class 0 has 1 other image, class 1 has 3 others, so
    P(partner = the class-0 image) = 1/2 * 1/2 (drawing among the class's 2 images)."""
    labels = np.zeros((5, 2), dtype=bool)
    labels[0] = True  # anchor: both classes
    labels[1, 0] = True
    labels[2:, 1] = True
    index = ClassIndex(labels)
    partners = index.sample_partners(np.zeros(20000, dtype=np.int64), 1,
                                     np.random.default_rng(0))[:, 0]
    frequency = np.bincount(partners, minlength=5) / len(partners)
    # image 1: class 0 (1/2) then 1 of 2 images (1/2); images 2..4: 1/2 * 1/4 each; anchor rest
    np.testing.assert_allclose(frequency, [0.25 + 0.125, 0.25, 0.125, 0.125, 0.125], atol=0.015)
    excluded = index.sample_partners(np.zeros(20000, dtype=np.int64), 1,
                                     np.random.default_rng(0), exclude_anchor=True)[:, 0]
    frequency = np.bincount(excluded, minlength=5) / len(excluded)
    np.testing.assert_allclose(frequency, [0, 0.5, 1 / 6, 1 / 6, 1 / 6], atol=0.015)


def test_deterministic_under_seed_and_new_partners_each_epoch():
    dataset = LabelsOnly(random_labels())
    first = list(ClassPairSampler(dataset, seed=11))
    again = list(ClassPairSampler(dataset, seed=11))
    other_seed = list(ClassPairSampler(dataset, seed=12))
    assert first == again
    assert first != other_seed
    sampler = ClassPairSampler(dataset, seed=11)
    sampler.set_epoch(1)
    assert list(sampler) != first
    unshuffled = list(ClassPairSampler(dataset, seed=11, shuffle=False))
    assert [group[0] for group in unshuffled] == list(range(len(dataset)))


@pytest.mark.parametrize('num_images', [36, 37])
def test_distributed_ranks_see_disjoint_anchors(monkeypatch, num_images):
    dataset = LabelsOnly(random_labels(num_images))
    per_rank = []
    for rank in range(2):
        monkeypatch.setattr(mmengine_sampler, 'get_dist_info', lambda rank=rank: (rank, 2))
        sampler = ClassPairSampler(dataset, group_size=2, seed=5, round_up=False)
        assert (sampler.rank, sampler.world_size) == (rank, 2)
        per_rank.append(list(sampler))
    anchors = [{group[0] for group in groups} for groups in per_rank]
    assert anchors[0].isdisjoint(anchors[1])
    assert anchors[0] | anchors[1] == set(range(num_images))
    assert abs(len(per_rank[0]) - len(per_rank[1])) <= 1
    # an anchor gets the same partner whatever the number of ranks
    monkeypatch.setattr(mmengine_sampler, 'get_dist_info', lambda: (0, 1))
    single = dict((group[0], group[1]) for group in ClassPairSampler(dataset, seed=5))
    for groups in per_rank:
        for anchor, partner in groups:
            assert single[anchor] == partner
    # with round_up, both ranks get the same number of groups (one anchor repeated if odd)
    lengths = []
    for rank in range(2):
        monkeypatch.setattr(mmengine_sampler, 'get_dist_info', lambda rank=rank: (rank, 2))
        lengths.append(len(list(ClassPairSampler(dataset, seed=5))))
    assert lengths[0] == lengths[1] == (num_images + 1) // 2


@pytest.fixture
def group_dataset(tmp_path):
    root = str(tmp_path / 'generic')
    labels = ['cat', 'cat dog', 'dog', 'horse', 'horse cat', 'dog']
    lines = []
    for index, label in enumerate(labels):
        write_image(osp.join(root, 'images', f'im{index}.jpg'), height=8 + index, width=10,
                    seed=index)
        lines.append(f'im{index} {label}')
    write_text(osp.join(root, 'labels.txt'), lines)
    write_text(osp.join(root, 'classes.txt'), ['cat', 'dog', 'horse'])
    return dict(
        type='ImageGroupDataset',
        group_size=3,
        seed=1,
        dataset=dict(
            type='GenericImageLabelDataset',
            data_root=root,
            pipeline=[dict(type='LoadImageWithCheck'),
                      dict(type='Resize', scale=(8, 8), keep_ratio=False),
                      dict(type='PackWSSSInputs')]))


def test_group_dataset_with_sampler_and_collate(group_dataset):
    from wsss_toolbox.registry import DATASETS
    dataset = DATASETS.build(group_dataset)
    assert isinstance(dataset, ImageGroupDataset) and len(dataset) == 6
    labels = dataset.label_matrix()
    # an int index draws its partners from (seed, index): the same every time
    group = dataset[4]
    assert len(group) == 3
    assert [item['data_samples'].img_id for item in dataset[4]] == \
        [item['data_samples'].img_id for item in group]
    anchor_label = group[0]['data_samples'].gt_label.numpy() > 0
    for position, item in enumerate(group):
        sample = item['data_samples']
        assert sample.group_position == position and sample.group_size == 3
        assert sample.group_anchor == 4
        assert (anchor_label & (sample.gt_label.numpy() > 0)).any()
    sampler = DATA_SAMPLERS.build(dict(type='ClassPairSampler', group_size=3, seed=0),
                                  default_args=dict(dataset=dataset))
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, sampler=sampler,
                                         collate_fn=group_collate)
    batches = list(loader)
    assert len(batches) == 3
    for batch in batches:
        assert len(batch['inputs']) == 6 and len(batch['data_samples']) == 6
        assert [s.group_position for s in batch['data_samples']] == [0, 1, 2, 0, 1, 2]
        for start in (0, 3):
            members = batch['data_samples'][start:start + 3]
            anchor = members[0].group_anchor
            for sample in members:
                index = int(sample.img_id[2:])
                assert (labels[anchor] & labels[index]).any()
                assert tuple(batch['inputs'][start].shape) == (3, 8, 8)


def test_sampler_refuses_an_unwrapped_dataset(group_dataset):
    from wsss_toolbox.registry import DATASETS
    plain = DATASETS.build(group_dataset['dataset'])
    with pytest.raises(TypeError, match='ImageGroupDataset'):
        ClassPairSampler(plain, seed=0)


def test_runner_builds_the_group_loader_from_a_config(group_dataset):
    loader = Runner.build_dataloader(
        dict(batch_size=2, num_workers=0, dataset=group_dataset,
             sampler=dict(type='ClassPairSampler', group_size=3, shuffle=True),
             collate_fn=dict(type='group_collate')),
        seed=0)
    assert isinstance(loader.sampler, ClassPairSampler)
    batch = next(iter(loader))
    assert len(batch['inputs']) == 6
    assert sum(s.group_position == 0 for s in batch['data_samples']) == 2


def test_group_dataset_hands_overrides_to_the_wrapped_config(group_dataset, tmp_path):
    """``train_dataloader.dataset.data_root=...`` (or ``pipeline``) on the wrapper reaches the
    image dataset, as without the wrapper; on a built dataset it is an error."""
    from wsss_toolbox.registry import DATASETS
    inner = dict(group_dataset['dataset'])
    data_root = inner.pop('data_root')
    dataset = DATASETS.build(dict(group_dataset, dataset=dict(inner, data_root='nowhere'),
                                  data_root=data_root, pipeline=[]))
    assert len(dataset) == 6 and dataset.dataset.data_root == data_root
    assert set(dataset.get_data_info(0)) >= {'img_path', 'gt_label'}
    with pytest.raises(TypeError, match=r"\['data_root'\] can only be set on a dataset config"):
        ImageGroupDataset(DATASETS.build(group_dataset['dataset']), data_root=data_root)
