# The LID 2020 track-3 winner's three CAM fixes (Bae et al. 2020) on ILSVRC CLS-LOC: TAP +
# negative-weight clamping in the classifier, the 90th percentile as the scaling reference of
# the curve (and, for comparison, the max reference of the plain track metric).
_base_ = ['./cam-wsol_clsloc.py']
steps = ['stage1', 'maps', 'peak_iou', 'peak_iou_percentile', 'summary']
stage1 = dict(config='../lid/cam-tap-clamp_vgg16_1xb32-6e_clsloc-224x224.py')
peak_iou_percentile = dict(type='EvaluatePeakIoU', maps='maps', mask_format='binary',
                           reference='percentile', percentile=90, nproc=4)
