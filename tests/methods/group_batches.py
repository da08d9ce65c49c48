"""Tiny batches of image groups for the cross-image classifiers (RPNet, MCIS): what
``group_collate`` and another collate function make of them, and a small model of a config."""
import os.path as osp

import torch
from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
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
