"""MCISClassifier on a batch that is not what group_collate makes: an error naming the config
key, not mmengine's ``list indices must be integers or slices, not str``."""
import pytest
import torch
from mmengine.optim import OptimWrapper

from ..group_batches import collated, tiny_model

CONFIG = 'mcis/mcis_tiny_1xb8-4e_synthetic-128x128.py'


def test_batch_of_unflattened_groups_names_the_collate_key():
    model = tiny_model(CONFIG)
    optim_wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.0))
    with pytest.raises(TypeError) as error:
        model.train_step(collated('pseudo_collate'), optim_wrapper)
    message = str(error.value)
    assert message.startswith('MCISClassifier trains on groups of images, but its training '
                              'batch is a list of 2 dicts (one per group position)')
    assert "train_dataloader.collate_fn=dict(type='group_collate')" in message
    assert model.data_preprocessor(collated('group_collate'), True)['inputs'].shape[0] == 4
