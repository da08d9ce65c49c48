"""Tiny batches of image groups for the cross-image classifiers (RPNet, MCIS): what
``group_collate`` and another collate function make of them, a small model of a config, and
the checks of the classifiers' batch guard (:class:`GroupBatchChecks`)."""
import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope

from wsss_toolbox.datasets import group_collate
from wsss_toolbox.registry import MODELS
from wsss_toolbox.structures import WSSSDataSample


def tiny_model(config: str):
    """The model of ``configs/<config>`` with a few channels."""
    init_default_scope('wsss_toolbox')
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', config))
    cfg.model.backbone.update(base_channels=8, norm_cfg=None)
    cfg.model.head.update(in_channels=32, channels=16)
    return MODELS.build(cfg.model)


def groups(num_groups: int = 2, group_size: int = 2, size: int = 16) -> list:
    """What ``ImageGroupDataset`` yields for a batch: lists of packed images."""
    batch = []
    for group in range(num_groups):
        items = []
        for position in range(group_size):
            sample = WSSSDataSample(metainfo=dict(
                img_id=f'img{group}_{position}', group_position=position,
                group_size=group_size, group_anchor=group))
            sample.gt_label = torch.tensor([1., 0.] + [0.] * 6)
            items.append(dict(inputs=torch.zeros(3, size, size, dtype=torch.uint8),
                              data_samples=sample))
        batch.append(items)
    return batch


def collated(name: str) -> object:
    return dict(group_collate=group_collate, pseudo_collate=pseudo_collate)[name](groups())


class GroupBatchChecks:
    """A batch that is not what ``group_collate`` makes is an error naming the config key,
    not mmengine's ``list indices must be integers or slices, not str``. A method's test
    module subclasses it as ``Test...`` with its ``config`` and the classifier's name
    (``owner``)."""

    config: str
    owner: str

    @pytest.fixture(scope='class')
    def model(self):
        return tiny_model(self.config)

    def test_batch_of_unflattened_groups_names_the_collate_key(self, model):
        optim_wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.0))
        with pytest.raises(TypeError) as error:
            model.train_step(collated('pseudo_collate'), optim_wrapper)
        message = str(error.value)
        assert message.startswith(f'{self.owner} trains on groups of images, but its training '
                                  'batch is a list of 2 dicts (one per group position)')
        assert "train_dataloader.collate_fn=dict(type='group_collate')" in message

    def test_check_also_guards_the_ddp_wrapper_path(self, model):
        # MMDistributedDataParallel.train_step calls the preprocessor with training=True as a
        # keyword, without the model's train_step
        with pytest.raises(TypeError, match=f'^{self.owner} .*group_collate'):
            model.data_preprocessor(collated('pseudo_collate'), training=True)

    def test_group_collate_batches_pass(self, model):
        data = model.data_preprocessor(collated('group_collate'), True)
        assert data['inputs'].shape == (4, 3, 16, 16)
        # not training: no check (validation batches are single images)
        model.data_preprocessor(collated('group_collate'), False)
