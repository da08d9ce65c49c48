# CAM with thresholded average pooling (TAP, theta 0.1) instead of GAP (LID 2020 track-3 winner,
# Bae et al. 2020, fix 1); everything else as the plain CAM config.
_base_ = ['./cam_tiny_1xb16-10e_synthetic-many-96x96.py']
model = dict(head=dict(pooling='tap', tap_threshold=0.1))
