# OAA (max fusion) with the authors' settings (configs/oaa/README.md, "Authors' settings vs
# the paper reading"; those that apply to the tiny benchmark classifier:
# configs/oaa/oaa-authors_tiny_1xb16-8e_synthetic-128x128.py) through all three stages; the
# paper-reading run is oaa_synthetic.py.
#   .venv/bin/python tools/pipeline.py configs/pipelines/oaa-authors_synthetic.py \
#       --work-dir work_dirs/compare/oaa-authors
_base_ = ['./oaa_synthetic.py']
stage1 = dict(config='../oaa/oaa-authors_tiny_1xb16-8e_synthetic-128x128.py')
