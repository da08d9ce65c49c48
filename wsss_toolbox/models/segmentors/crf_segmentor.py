"""Test-time DenseCRF post-processing of segmentation predictions (stage 3).

OAA, SeeNet and MCIS report DeepLab results after multi-scale testing and DenseCRF
(Krähenbühl & Koltun, NeurIPS'11). Two entry points:

* :class:`CRFEncoderDecoder` -- mmseg ``EncoderDecoder`` that, when ``test_cfg.crf`` is set,
  refines each image's softmax map with a refiner from ``REFINERS`` (single-scale testing).
* :class:`CRFSegTTAModel` -- mmseg ``SegTTAModel`` for ``tta_pipeline`` (scales x flip): it
  fuses the per-augmentation predictions (mean of softmax, or max of logits) and runs the
  CRF once on the fused probabilities. It turns off the wrapped model's own CRF so the CRF
  never runs per augmentation.

The refiner must provide ``refine_probs(probs (L, H, W) float, image RGB uint8 HxWx3) ->
uint8 HxW labels``; the image is read from ``data_sample.img_path``.
"""
from typing import List, Optional, Union

import mmcv
import numpy as np
import torch
import torch.nn as nn
from mmengine.structures import PixelData
from mmseg.models.segmentors import EncoderDecoder, SegTTAModel
from mmseg.structures import SegDataSample
from mmseg.utils import OptSampleList, SampleList
from torch import Tensor

from wsss_toolbox.registry import MODELS, REFINERS

FUSIONS = ('mean', 'max')


def build_crf_refiner(crf_cfg: Union[dict, object, None]) -> Optional[object]:
    """Build a refiner from ``REFINERS`` (or pass an object through); checks the interface."""
    if crf_cfg is None or crf_cfg is False:
        return None
    refiner = REFINERS.build(crf_cfg) if isinstance(crf_cfg, dict) else crf_cfg
    if not callable(getattr(refiner, 'refine_probs', None)):
        raise TypeError(f'{type(refiner).__name__} (from crf={crf_cfg}) has no '
                        'refine_probs(probs, image) method; use a probability refiner such '
                        "as dict(type='DenseCRFRefiner').")
    return refiner


def crf_refine_probs(refiner, probs: Tensor, img_path: str,
                     backend_args: Optional[dict] = None) -> Tensor:
    """Refine one image's class probabilities with the CRF.

    Args:
        refiner: object with ``refine_probs(probs, image)``.
        probs: (L, H, W) class probabilities at the original image size.
        img_path: the image, read in RGB as the refiner expects.
        backend_args: mmengine file backend arguments.

    Returns:
        (1, H, W) int64 label map on ``probs.device``.
    """
    try:
        image = mmcv.imread(img_path, channel_order='rgb', backend_args=backend_args)
    except FileNotFoundError:
        raise
    except Exception as error:  # OpenCV's "!_src.empty()" for an undecodable file
        raise OSError(f'CRF: cannot decode image "{img_path}": it is empty, truncated or not '
                      'an image; re-export it or remove it from the test list.') from error
    if image.shape[:2] != tuple(probs.shape[1:]):
        raise ValueError(f'CRF: image {img_path} is {image.shape[:2]} but the prediction is '
                         f'{tuple(probs.shape[1:])}; the prediction must be at the original '
                         'image size (check ori_shape in the test pipeline).')
    probs_np = np.ascontiguousarray(probs.detach().float().cpu().numpy())
    labels = refiner.refine_probs(probs_np, image)
    labels = torch.from_numpy(np.asarray(labels).astype(np.int64))
    return labels.reshape(1, *probs.shape[1:]).to(probs.device)


def _image_path(data_sample: SegDataSample) -> str:
    if 'img_path' not in data_sample:
        raise ValueError('CRF post-processing reads the image from data_sample.img_path, '
                         'but the data sample has none; pack it with PackSegInputs '
                         '(its default meta_keys keep img_path) or set test_cfg.crf=None.')
    return data_sample.img_path


@MODELS.register_module()
class CRFEncoderDecoder(EncoderDecoder):
    """mmseg ``EncoderDecoder`` with optional DenseCRF refinement of the predictions.

    Everything is as in ``EncoderDecoder``; in addition ``test_cfg.crf`` (a ``REFINERS``
    config such as ``dict(type='DenseCRFRefiner')``, or ``None``) makes ``predict`` replace
    ``pred_sem_seg`` by the CRF labels computed from ``softmax(seg_logits)`` and the image.
    ``seg_logits`` keep the network output.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        crf_cfg = (self.test_cfg or {}).get('crf')
        self.crf_refiner = build_crf_refiner(crf_cfg)
        if self.crf_refiner is not None and self.out_channels == 1:
            raise ValueError('test_cfg.crf needs a multi-class head (out_channels > 1).')
        # CRFSegTTAModel turns this off and applies the CRF once after fusing augmentations
        self.crf_enabled = True

    def predict(self, inputs: Tensor, data_samples: OptSampleList = None) -> SampleList:
        """``EncoderDecoder.predict``, then the CRF on each image when configured."""
        data_samples = super().predict(inputs, data_samples)
        if self.crf_refiner is None or not self.crf_enabled:
            return data_samples
        for data_sample in data_samples:
            probs = data_sample.seg_logits.data.softmax(dim=0)
            labels = crf_refine_probs(self.crf_refiner, probs, _image_path(data_sample))
            data_sample.set_data({'pred_sem_seg': PixelData(data=labels)})
        return data_samples


@MODELS.register_module()
class CRFSegTTAModel(SegTTAModel):
    """Test-time augmentation (scales x flips) with fusion choice and a final CRF.

    Args:
        module: the segmentor (config or module); ``cfg.tta_model.module = cfg.model``.
        crf: ``REFINERS`` config applied once to the fused probabilities. ``None`` uses the
            wrapped model's ``test_cfg.crf`` if it has one, else no CRF.
        fusion: ``'mean'`` averages the softmax of every augmentation (mmseg, MCIS code);
            ``'max'`` takes the pixel-wise max of the logits over augmentations, then the
            softmax (DeepLab-v2 / deeplab-pytorch multi-scale fusion, SeeNet).
        data_preprocessor: as ``BaseTTAModel``.

    ``seg_logits`` of the merged sample holds the log of the fused probabilities (so its
    softmax gives them back); ``pred_sem_seg`` the argmax, or the CRF labels.
    """

    def __init__(self,
                 module: Union[dict, nn.Module],
                 crf: Optional[dict] = None,
                 fusion: str = 'mean',
                 data_preprocessor: Union[dict, nn.Module, None] = None) -> None:
        super().__init__(module=module, data_preprocessor=data_preprocessor)
        if fusion not in FUSIONS:
            raise ValueError(f'fusion must be one of {FUSIONS}, got {fusion!r}')
        self.fusion = fusion
        self.crf_refiner = build_crf_refiner(crf)
        if self.crf_refiner is None:
            self.crf_refiner = getattr(self.module, 'crf_refiner', None)
        if hasattr(self.module, 'crf_enabled'):
            self.module.crf_enabled = False

    def merge_preds(self, data_samples_list: List[SampleList]) -> SampleList:
        """Fuse the augmentations of every image, then apply the CRF (if any)."""
        if self.module.out_channels == 1:
            if self.crf_refiner is not None or self.fusion != 'mean':
                raise ValueError('CRFSegTTAModel supports binary (out_channels=1) heads only '
                                 "with fusion='mean' and no CRF.")
            return super().merge_preds(data_samples_list)
        return [self._merge_one(list(augmented)) for augmented in data_samples_list]

    def fuse_logits(self, logits: Tensor) -> Tensor:
        """Fused class probabilities (C, H, W) from per-augmentation logits (A, C, H, W)."""
        if self.fusion == 'mean':
            return logits.softmax(dim=1).mean(dim=0)
        return logits.max(dim=0).values.softmax(dim=0)

    def _merge_one(self, augmented: SampleList) -> SegDataSample:
        first = augmented[0]
        probs = self.fuse_logits(torch.stack([sample.seg_logits.data for sample in augmented]))
        if self.crf_refiner is not None:
            labels = crf_refine_probs(self.crf_refiner, probs, _image_path(first))
        else:
            labels = probs.argmax(dim=0, keepdim=True)
        merged = SegDataSample(metainfo=first.metainfo)
        merged.seg_logits = PixelData(data=probs.clamp_min(1e-12).log())
        merged.pred_sem_seg = PixelData(data=labels)
        if 'gt_sem_seg' in first:
            merged.gt_sem_seg = first.gt_sem_seg
        return merged
