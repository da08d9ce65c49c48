"""IntegralAttentionHead passes the other CAMHead arguments (and through it the CAMBranch
ones) on with ``**kwargs``; its own options stay keyword-only."""
import pytest

from wsss_toolbox.methods.oaa.heads import IntegralAttentionHead


def test_cam_head_and_branch_arguments_are_passed_on():
    head = IntegralAttentionHead(in_channels=4, num_classes=2, num_convs=1, channels=8,
                                 dropout_ratio=0.5, pooling='tap', tap_threshold=0.2,
                                 label_resize_mode='nearest')
    assert len(head.branch.convs) == 1 and head.branch.classifier.in_channels == 8
    assert head.branch.dropout.p == 0.5
    assert head.branch.pooling == 'tap' and head.branch.tap_threshold == 0.2
    assert head.label_resize_mode == 'nearest' and head.loss_cls is None


def test_unknown_or_positional_arguments_still_fail():
    with pytest.raises(TypeError, match='num_conv'):
        IntegralAttentionHead(in_channels=4, num_classes=2, num_conv=1)
    with pytest.raises(TypeError):
        IntegralAttentionHead(4, 2, 1)  # only in_channels and num_classes are positional
