"""MCISClassifier on a batch that is not what group_collate makes: an error naming the config
key (the checks: tests/methods/group_batches.py)."""
from ..group_batches import GroupBatchChecks


class TestMCISGroupBatchCheck(GroupBatchChecks):
    config = 'mcis/mcis_tiny_1xb8-4e_synthetic-128x128.py'
    owner = 'MCISClassifier'
