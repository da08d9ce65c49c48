"""SeeNetHead passes every CAMBranch argument on to its three branches (``**kwargs``), so a
new CAMBranch option needs no edit of the head; its own options stay keyword-only."""
import pytest

from wsss_toolbox.methods.seenet import SeeNetHead


def test_cam_branch_arguments_reach_the_three_branches():
    head = SeeNetHead(in_channels=3, num_classes=2, num_convs=1, channels=4, dropout_ratio=0.5,
                      classifier_bias=False, init_mode='kaiming_fan_out')
    for branch in (head.branch_a, head.branch_b, head.branch_c):
        assert len(branch.convs) == 1 and branch.classifier.in_channels == 4
        assert branch.dropout.p == 0.5 and branch.init_mode == 'kaiming_fan_out'
        assert branch.classifier.bias is None  # a CAMBranch option the head never lists


def test_unknown_or_positional_arguments_still_fail():
    with pytest.raises(TypeError, match='num_conv'):
        SeeNetHead(in_channels=3, num_classes=2, num_conv=1)
    with pytest.raises(TypeError):
        SeeNetHead(3, 2, 1)  # only in_channels and num_classes are positional
