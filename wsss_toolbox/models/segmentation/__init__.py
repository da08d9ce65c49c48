"""Stage 3: DeepLab on pseudo labels (mmseg segmentors, heads and the pseudo-label dataset)."""
from .crf_segmentor import (CRFEncoderDecoder, CRFSegTTAModel, build_crf_refiner,
                            crf_refine_probs)
from .largefov_head import LargeFOVHead, vgg16_fc_to_largefov
from .pseudo_label_dataset import PseudoLabelSegDataset

__all__ = [
    'LargeFOVHead', 'vgg16_fc_to_largefov', 'CRFEncoderDecoder', 'CRFSegTTAModel',
    'build_crf_refiner', 'crf_refine_probs', 'PseudoLabelSegDataset'
]
