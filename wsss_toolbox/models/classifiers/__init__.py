from .wsss_classifier import DEFAULT_DATA_PREPROCESSOR, WSSSClassifier

__all__ = ['WSSSClassifier', 'DEFAULT_DATA_PREPROCESSOR']
