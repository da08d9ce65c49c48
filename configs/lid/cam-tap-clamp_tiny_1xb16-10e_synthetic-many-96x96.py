# TAP + negative-weight clamping (Bae et al. 2020, fixes 1 and 2; fix 3, the percentile, acts at
# evaluation / label time): infer maps with the TAP checkpoint.
_base_ = ['./cam-tap_tiny_1xb16-10e_synthetic-many-96x96.py']
model = dict(head=dict(clamp_negative_weights=True))
