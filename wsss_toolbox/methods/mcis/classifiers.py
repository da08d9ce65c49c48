"""MCIS classifier: :class:`WSSSClassifier` plus the authors' self-pairs (GuoleiSun/MCIS_wsss,
Classifier/scripts/train.py L209-211, L239-241, L260-265)."""
from typing import Dict, List, Optional, Sequence, Union

import torch.nn.functional as F
from torch import Tensor

from wsss_toolbox.datasets.group_dataset import check_group_batches
from wsss_toolbox.models.classifiers import WSSSClassifier
from wsss_toolbox.registry import MODELS
from wsss_toolbox.structures import WSSSDataSample

SelfPair = Union[str, float]


@MODELS.register_module()
class MCISClassifier(WSSSClassifier):
    """Siamese classifier of MCIS: one backbone and :class:`MCISHead` on image pairs.

    ``mode='loss'`` trains Eq. 10 on the pairs of the batch and, with ``self_pairs``, the
    authors' extra pairs of every anchor ``I_m`` with a transformed copy of itself, each
    adding ``L_basic + L_co-att`` with ``l_m`` for both images: ``'flip'`` (horizontal
    mirror) and scale factors (authors' code: 0.75 and 2, i.e. 192^2 and 512^2 for their
    256^2 inputs; resized bilinearly from the network input). Their losses are reported as
    ``loss_self_basic`` and ``loss_self_co_att`` (sums over the self-pairs).

    Args:
        backbone, head, data_preprocessor, init_cfg: see :class:`WSSSClassifier`.
        self_pairs: transforms of the anchor that make self-pairs; ``()`` disables them.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 self_pairs: Sequence[SelfPair] = ('flip', 0.75, 2.0),
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(backbone=backbone, head=head, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        for kind in self_pairs:
            if kind != 'flip' and not (isinstance(kind, (int, float)) and kind > 0):
                raise ValueError(f"self_pairs entries must be 'flip' or a positive scale "
                                 f'factor, got {kind!r}')
        self.self_pairs = tuple(self_pairs)
        check_group_batches(self, type(self).__name__)

    def self_pair_input(self, inputs: Tensor, kind: SelfPair) -> Tensor:
        """The transformed copy ``T(I)`` of a batch of (preprocessed) anchor images."""
        if kind == 'flip':
            return inputs.flip(-1)
        height, width = inputs.shape[-2:]
        size = (max(1, round(height * kind)), max(1, round(width * kind)))
        return F.interpolate(inputs, size=size, mode='bilinear', align_corners=False)

    def loss(self, inputs: Tensor, data_samples: List[WSSSDataSample]) -> Dict[str, Tensor]:
        """Eq. 10 on the batch's pairs plus the self-pairs; records ``train_outputs``."""
        if data_samples is None:
            raise ValueError("MCISClassifier mode='loss' needs data samples carrying gt_label")
        outputs = self._forward(inputs, data_samples)
        losses = self.head.loss(outputs, data_samples)
        if self.self_pairs:
            anchors = [index for index, sample in enumerate(data_samples)
                       if sample.metainfo.get('group_position', 0) == 0]
            labels = self.head.stack_gt_labels([data_samples[i] for i in anchors],
                                               device=inputs.device)
            anchor = {key: outputs[key][anchors] for key in ('features', 'logits')}
            for kind in self.self_pairs:
                partner = self.head.image_branch(
                    self.extract_feat(self.self_pair_input(inputs[anchors], kind)))
                pair = self.head.self_pair_losses(anchor, partner, labels)
                for key in ('loss_basic', 'loss_co_att'):
                    name = key.replace('loss_', 'loss_self_')
                    losses[name] = losses[name] + pair[key] if name in losses else pair[key]
        recorded = {key: value.detach() for key, value in outputs.items()
                    if isinstance(value, Tensor)}
        recorded.update(data_samples=data_samples, batch_input_shape=tuple(inputs.shape[-2:]))
        self.train_outputs = recorded
        return losses
