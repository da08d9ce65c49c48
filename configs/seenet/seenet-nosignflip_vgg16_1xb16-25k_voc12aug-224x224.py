# SeeNet without the sign flip on VOC 2012 (Table 1, setting 2: the background zone of the
# C-ReLU is zeroed, not negated; S_C kept); otherwise as
# seenet_vgg16_1xb16-25k_voc12aug-224x224.py.
_base_ = ['./seenet_vgg16_1xb16-25k_voc12aug-224x224.py']
custom_imports = dict(imports=['wsss_toolbox.methods.seenet'], allow_failed_imports=False)
model = dict(head=dict(flip_background=False))
