# OAA++ with the authors' settings through all three stages (configs/oaa/README.md,
# "Pipelines").
_base_ = ['./oaa_synthetic.py']
stage1 = dict(config='../oaa/oaa-drop-authors_tiny_1xb16-8e_synthetic-128x128.py')
