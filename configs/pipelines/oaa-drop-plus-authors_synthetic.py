# OAA+++ (integral attention model on the cumulative maps of OAA++) with the authors'
# settings; see oaa-plus-authors_synthetic.py (stage 0 = the OAA++ classifier
# with the authors' settings and attention drop).
#   .venv/bin/python tools/pipeline.py configs/pipelines/oaa-drop-plus-authors_synthetic.py \
#       --work-dir work_dirs/compare/oaa-drop-plus-authors
_base_ = ['./oaa-plus-authors_synthetic.py']
stage0 = dict(config='../oaa/oaa-drop-authors_tiny_1xb16-8e_synthetic-128x128.py')
