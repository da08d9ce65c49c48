# OAA++ on VOC 2012: + the authors' attention drop, beta 0.5, delta 0.6 (README,
# "Attention drop").
_base_ = ['./_base_/oaa_vgg16_voc12aug.py']
custom_hooks = [*_base_.custom_hooks,
                dict(type='AttentionDropHook', drop_prob=0.5, threshold=0.6, previous='stored',
                     mask='union', exact_fill=True)]
