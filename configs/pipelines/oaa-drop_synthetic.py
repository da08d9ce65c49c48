# OAA++ (OAA + attention drop layer, beta 0.5, delta 0.6) through all three stages; see
# oaa_synthetic.py.
_base_ = ['./oaa_synthetic.py']
stage1 = dict(config='../oaa/oaa-drop_tiny_1xb16-8e_synthetic-128x128.py')
