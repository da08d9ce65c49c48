# OAA++ with the integral attention model, authors' settings: stage 0 = OAA++ with the authors'
# settings (configs/oaa/README.md, "Pipelines").
_base_ = ['./oaa-plus-authors_synthetic.py']
stage0 = dict(config='../oaa/oaa-drop-authors_tiny_1xb16-8e_synthetic-128x128.py')
