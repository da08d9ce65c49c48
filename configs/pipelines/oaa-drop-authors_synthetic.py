# OAA++ with the authors' settings (configs/oaa/README.md, "Authors' settings vs the paper
# reading"), the authors' attention drop included
# (configs/oaa/oaa-drop-authors_tiny_1xb16-8e_synthetic-128x128.py), through all three
# stages; the paper-reading run is oaa-drop_synthetic.py.
#   .venv/bin/python tools/pipeline.py configs/pipelines/oaa-drop-authors_synthetic.py \
#       --work-dir work_dirs/compare/oaa-drop-authors
_base_ = ['./oaa_synthetic.py']
stage1 = dict(config='../oaa/oaa-drop-authors_tiny_1xb16-8e_synthetic-128x128.py')
