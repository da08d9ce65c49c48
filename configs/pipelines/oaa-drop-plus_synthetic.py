# OAA++ with the integral attention model: stage 0 = OAA++ (configs/oaa/README.md, "Pipelines").
_base_ = ['./oaa-plus_synthetic.py']
stage0 = dict(config='../oaa/oaa-drop_tiny_1xb16-8e_synthetic-128x128.py')
