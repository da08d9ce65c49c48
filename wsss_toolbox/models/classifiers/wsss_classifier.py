"""Stage-1 image-level classifier: backbone + attention head."""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.model import BaseModel
from torch import Tensor

from wsss_toolbox.registry import MODELS
from wsss_toolbox.structures import WSSSDataSample

from ..heads.outputs import HeadOutputs
from ..utils import resize_maps_to_image

DEFAULT_DATA_PREPROCESSOR = dict(
    type='ImgDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_size_divisor=8)


@MODELS.register_module()
class WSSSClassifier(BaseModel):
    """Weakly supervised classifier producing class scores and localization maps.

    ``forward(inputs, data_samples, mode)``:

    * ``'loss'``: head forward + ``head.loss``; returns the loss dict. It also stores
      ``self.train_outputs = dict(logits, cams, data_samples, batch_input_shape)`` with
      ``logits``/``cams`` (and any other tensor the head returned) detached, so hooks (OAA
      accumulation, attention drop) can read the training forward in ``after_train_iter``
      without a second forward pass.
      ``batch_input_shape`` is the padded (H, W) of the network input; feature-resolution
      maps cover it, each image occupying its top-left ``img_shape``.
    * ``'predict'``: returns the data samples with ``pred_scores`` (C,) = sigmoid(logits)
      and ``pred_maps`` (C, H, W) = the head's non-negative ``localization_maps`` resized
      bilinearly to the sample's ``img_shape`` (batch padding cropped away). A data sample
      whose metainfo has ``pred_on_feature_grid=True`` gets ``pred_feature_maps`` (C, h, w)
      instead: the same maps on the feature grid of the padded batch, not resized (map
      inference's ``aggregation='feature_grid'`` resizes them itself).
    * ``'tensor'``: the head's output dict.

    Every data sample also gets the metainfo ``batch_input_shape``.

    Args:
        backbone: backbone config (returns a tuple of feature maps).
        head: attention head config (a :class:`BaseAttentionHead`).
        data_preprocessor: defaults to mmengine's ``ImgDataPreprocessor`` with ImageNet
            mean/std, BGR->RGB and padding to a multiple of 8.
        init_cfg: mmengine initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = copy.deepcopy(DEFAULT_DATA_PREPROCESSOR)
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.head = MODELS.build(head)
        self.train_outputs: Optional[dict] = None

    def extract_feat(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """Backbone features (a tuple, as mmseg backbones return)."""
        feats = self.backbone(inputs)
        if isinstance(feats, Tensor):
            feats = (feats, )
        return tuple(feats)

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List[WSSSDataSample]] = None,
                mode: str = 'tensor') -> Union[Dict[str, Tensor], List[WSSSDataSample]]:
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}": WSSSClassifier supports '
                           "'loss', 'predict' and 'tensor'")

    def _forward(self, inputs: Tensor,
                 data_samples: Optional[List[WSSSDataSample]] = None) -> Dict[str, Tensor]:
        """Head outputs (``logits``, ``cams``, and whatever else the head returns)."""
        if data_samples is not None:
            self._set_batch_input_shape(inputs, data_samples)
        return self.head(self.extract_feat(inputs), data_samples)

    def loss(self, inputs: Tensor, data_samples: List[WSSSDataSample]) -> Dict[str, Tensor]:
        """Head losses; also records the detached outputs in ``self.train_outputs``."""
        if data_samples is None:
            raise ValueError("WSSSClassifier mode='loss' needs data samples carrying gt_label")
        outputs = self._forward(inputs, data_samples)
        losses = self.head.loss(outputs, data_samples)
        recorded = HeadOutputs({key: value.detach() for key, value in outputs.items()
                                if isinstance(value, Tensor)})
        recorded.update(data_samples=data_samples, batch_input_shape=tuple(inputs.shape[-2:]))
        self.train_outputs = recorded
        return losses

    def predict(self, inputs: Tensor,
                data_samples: Optional[List[WSSSDataSample]] = None) -> List[WSSSDataSample]:
        """Fill ``pred_scores`` and image-size ``pred_maps`` into the data samples."""
        if data_samples is None:
            height, width = inputs.shape[-2:]
            data_samples = [WSSSDataSample(metainfo=dict(img_shape=(height, width)))
                            for _ in range(inputs.shape[0])]
        outputs = self._forward(inputs, data_samples)
        scores = self.head.predict_scores(outputs)
        maps = self.head.localization_maps(outputs)
        batch_input_shape = tuple(inputs.shape[-2:])
        for index, sample in enumerate(data_samples):
            img_shape = sample.metainfo.get('img_shape', batch_input_shape)
            sample.pred_scores = scores[index].detach()
            if sample.metainfo.get('pred_on_feature_grid', False):
                sample.pred_feature_maps = maps[index].detach().clamp(min=0)
                continue
            sample.pred_maps = resize_maps_to_image(
                maps[index].detach(), batch_input_shape, img_shape[:2]).clamp(min=0)
        return data_samples

    @staticmethod
    def _set_batch_input_shape(inputs: Tensor, data_samples: Sequence) -> None:
        batch_input_shape = tuple(inputs.shape[-2:])
        for sample in data_samples:
            sample.set_metainfo(dict(batch_input_shape=batch_input_shape))
