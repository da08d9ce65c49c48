# OAA+++ (integral attention model on the cumulative maps of OAA++) through all three
# stages; see oaa-plus_synthetic.py (stage 0 = the OAA++ classifier).
_base_ = ['./oaa-plus_synthetic.py']
stage0 = dict(config='../oaa/oaa-drop_tiny_1xb16-8e_synthetic-128x128.py')
