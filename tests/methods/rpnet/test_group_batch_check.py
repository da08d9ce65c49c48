"""RPNetClassifier on a batch that is not what group_collate makes: an error naming the
config key, not mmengine's ``list indices must be integers or slices, not str``."""
import pytest
import torch
from mmengine.optim import OptimWrapper

from ..group_batches import collated, tiny_model

CONFIG = 'rpnet/rpnet_tiny_1xb8-4e_synthetic-128x128.py'


@pytest.fixture(scope='module')
def model():
    return tiny_model(CONFIG)


def test_batch_of_unflattened_groups_names_the_collate_key(model):
    optim_wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.0))
    with pytest.raises(TypeError) as error:
        model.train_step(collated('pseudo_collate'), optim_wrapper)
    message = str(error.value)
    assert message.startswith('RPNetClassifier trains on groups of images, but its training '
                              'batch is a list of 2 dicts (one per group position)')
    assert "train_dataloader.collate_fn=dict(type='group_collate')" in message


def test_check_also_guards_the_ddp_wrapper_path(model):
    # MMDistributedDataParallel.train_step calls the preprocessor with training=True as a
    # keyword, without the model's train_step
    with pytest.raises(TypeError, match='group_collate'):
        model.data_preprocessor(collated('pseudo_collate'), training=True)


def test_group_collate_batches_pass(model):
    data = model.data_preprocessor(collated('group_collate'), True)
    assert data['inputs'].shape == (4, 3, 16, 16)
    # not training: no check (validation batches are single images)
    model.data_preprocessor(collated('group_collate'), False)
