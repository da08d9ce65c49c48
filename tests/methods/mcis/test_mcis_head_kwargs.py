"""MCISHead passes the CAMBranch arguments of its basic branch on with ``**kwargs``; its own
options (``init_mode`` / ``init_std`` rules included) stay keyword-only."""
import pytest

from wsss_toolbox.methods.mcis import MCISHead


def test_cam_branch_arguments_reach_the_basic_branch():
    head = MCISHead(in_channels=4, num_classes=3, num_convs=1, channels=6, dropout_ratio=0.5,
                    classifier_bias=False)
    assert len(head.branch.convs) == 1 and head.branch.dropout.p == 0.5
    assert head.branch.classifier.bias is None  # a CAMBranch option the head never lists
    assert head.branch.init_mode == 'kaiming_fan_out'  # MCIS's own default
    assert head.affinity.in_features == 6 and head.co_classifier.in_channels == 6
    plain = MCISHead(in_channels=4, num_classes=3, num_convs=0)
    assert plain.affinity.in_features == 4  # F = the backbone features without extra convs


def test_pooling_other_than_gap_is_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"MCISHead: pooling='tap'.*GAP"):
        MCISHead(in_channels=4, num_classes=3, num_convs=0, pooling='tap')


def test_unknown_or_positional_arguments_still_fail():
    with pytest.raises(TypeError, match='num_conv'):
        MCISHead(in_channels=4, num_classes=3, num_conv=1)
    with pytest.raises(TypeError):
        MCISHead(4, 3, 1)  # only in_channels and num_classes are positional
