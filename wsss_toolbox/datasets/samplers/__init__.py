from .class_pair_sampler import ClassIndex, ClassPairSampler, dataset_label_matrix

__all__ = ['ClassIndex', 'ClassPairSampler', 'dataset_label_matrix']
