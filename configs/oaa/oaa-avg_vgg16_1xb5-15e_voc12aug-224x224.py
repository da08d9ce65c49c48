# OAA with average fusion (Eq. 10, Table 4 "AVE") on VOC 2012 (README, "Configs").
_base_ = ['./_base_/oaa_vgg16_voc12aug.py']
custom_hooks = [dict(_base_.custom_hooks[0], fusion='mean')]
