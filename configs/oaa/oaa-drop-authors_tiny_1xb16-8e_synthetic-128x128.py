# OAA++ with the authors' settings and attention drop (README, "Attention drop").
_base_ = ['./oaa-authors_tiny_1xb16-8e_synthetic-128x128.py']
custom_hooks = [*_base_.custom_hooks,
                dict(type='AttentionDropHook', drop_prob=0.5, threshold=0.6, previous='stored',
                     mask='union', exact_fill=True)]
