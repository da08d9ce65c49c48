# SeeNet without the sign flip (the paper's Table 1, setting 2): C-ReLU zeroes the background
# zone instead of negating it; everything else (S_C included) as
# seenet_tiny_1xb16-8e_synthetic-128x128.py.
#   python tools/train.py configs/seenet/seenet-nosignflip_tiny_1xb16-8e_synthetic-128x128.py
_base_ = ['./seenet_tiny_1xb16-8e_synthetic-128x128.py']
custom_imports = dict(imports=['wsss_toolbox.methods.seenet'], allow_failed_imports=False)
model = dict(head=dict(flip_background=False))
