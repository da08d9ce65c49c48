# The LID 2020 track-3 winner's CAM (Bae et al. 2020): thresholded average pooling (theta 0.1)
# instead of GAP and negative-weight clamping for the maps; the third fix, the percentile
# reference, is the `reference='percentile'` option of the EvaluatePeakIoU step
# (configs/pipelines/cam-track3-winner_clsloc.py).
_base_ = ['./cam_vgg16_1xb32-6e_clsloc-224x224.py']
model = dict(head=dict(pooling='tap', tap_threshold=0.1, clamp_negative_weights=True))
