# SeeNet without the sign flip on VOC 2012 (Table 1, setting 2; README, "Configs").
_base_ = ['./seenet_vgg16_1xb16-25k_voc12aug-224x224.py']
model = dict(head=dict(flip_background=False))
