# OAA (max fusion) on VOC 2012 with the authors' settings; the recorder keeps its maps in
# memory (README, "Configs"; commands under "Running").
_base_ = ['./_base_/oaa_vgg16_voc12aug.py']
custom_hooks = [dict(_base_.custom_hooks[0], store=dict(bits=8, backend='memory'))]
