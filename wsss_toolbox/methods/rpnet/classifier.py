"""RPNet's classifier: :class:`WSSSClassifier` plus the extra scales of the enhanced branch that
the authors' ``L_s`` averages (liuweide01/RPNet-Weakly-Supervised-Segmentation,
net/resnet50_cam.py L284-328: ``Net_CAM`` runs scales 0.5, 1.5 and 2 without gradient)."""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from wsss_toolbox.datasets.group_dataset import check_group_batches
from wsss_toolbox.models.classifiers import WSSSClassifier
from wsss_toolbox.registry import MODELS
from wsss_toolbox.structures import WSSSDataSample


@MODELS.register_module()
class RPNetClassifier(WSSSClassifier):
    """In training, after the scale-1 forward (original + enhanced branch, with gradients),
    run the backbone and the head's enhanced branch on the group rescaled by every other
    ``head.enhance_scales`` factor without gradient and hand the raw enhanced CAMs to the head's
    loss as ``enhanced_cams_extra``. Inference is :class:`WSSSClassifier`'s (original branch of
    single images). A training batch that is not one flat list of groups (another collate
    function than ``group_collate``) is an error naming the config key."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        check_group_batches(self, type(self).__name__)

    def _forward(self, inputs: Tensor,
                 data_samples: Optional[List[WSSSDataSample]] = None) -> Dict[str, Tensor]:
        outputs = super()._forward(inputs, data_samples)
        extra_scales = [scale for scale in getattr(self.head, 'enhance_scales', (1.0, ))[1:]]
        if self.training and extra_scales:
            extra = []
            with torch.no_grad():
                for scale in extra_scales:
                    scaled = F.interpolate(inputs, scale_factor=scale, mode='bilinear',
                                           align_corners=False)
                    branch = self.head.enhanced_branch(self.extract_feat(scaled), data_samples)
                    extra.append(branch['enhanced_cams'])
            outputs['enhanced_cams_extra'] = extra
        return outputs
