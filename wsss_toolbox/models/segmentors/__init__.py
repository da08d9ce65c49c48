"""Stage-3 segmentors: mmseg's ``EncoderDecoder`` / ``SegTTAModel`` with optional DenseCRF."""
from .crf_segmentor import CRFEncoderDecoder, CRFSegTTAModel, build_crf_refiner, crf_refine_probs

__all__ = ['CRFEncoderDecoder', 'CRFSegTTAModel', 'build_crf_refiner', 'crf_refine_probs']
