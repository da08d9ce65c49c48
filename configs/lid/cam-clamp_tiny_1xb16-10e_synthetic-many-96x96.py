# CAM whose inference maps use the classifier weights clamped at 0 (LID 2020 track-3 winner,
# Bae et al. 2020, fix 2). Training is that of plain CAM: infer maps with the plain CAM
# checkpoint (the weights fit; only the maps change).
_base_ = ['./cam_tiny_1xb16-10e_synthetic-many-96x96.py']
model = dict(head=dict(clamp_negative_weights=True))
