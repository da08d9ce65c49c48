# SeeNet without the sign flip (Table 1, setting 2: the background zone is zeroed, not
# negated; README, "Configs").
_base_ = ['./seenet_tiny_1xb16-8e_synthetic-128x128.py']
model = dict(head=dict(flip_background=False))
