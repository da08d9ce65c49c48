# OAA+ with the authors' settings: stage 1 learns from stage 0's stored maps
# (export_raw_dir; configs/oaa/README.md, "Pipelines").
_base_ = ['./oaa-plus_synthetic.py']
stage0 = dict(config='../oaa/oaa-authors_tiny_1xb16-8e_synthetic-128x128.py')
stage0_maps = dict(source='export_raw_dir')
stage1 = dict(config='../oaa/oaa-plus-authors_tiny_1xb16-8e_synthetic-128x128.py')
