# SeeNet without the sign flip (Table 1, setting 2: C-ReLU zeroes the background zone instead
# of negating it) through all three stages; otherwise as seenet_synthetic.py.
#   python tools/pipeline.py configs/pipelines/seenet-nosignflip_synthetic.py \
#       --work-dir work_dirs/seenet-nosignflip
_base_ = ['./seenet_synthetic.py']
custom_imports = dict(imports=['wsss_toolbox.methods.seenet'], allow_failed_imports=False)
stage1 = dict(config='../seenet/seenet-nosignflip_tiny_1xb16-8e_synthetic-128x128.py')
