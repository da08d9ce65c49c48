# OAA+ with the authors' settings (configs/oaa/README.md, "Authors' settings vs the paper
# reading") through all three stages: stage 0 is the OAA classifier with the authors'
# settings, whose *stored* uint8 maps (the recorder's export_raw_dir) are the integral
# attention model's targets (stage 1,
# oaa-plus-authors_tiny_...py). The paper-reading run is oaa-plus_synthetic.py.
#   .venv/bin/python tools/pipeline.py configs/pipelines/oaa-plus-authors_synthetic.py \
#       --work-dir work_dirs/compare/oaa-plus-authors
# To take the stored maps of an OAA run made elsewhere (e.g. oaa-authors_synthetic.py's):
#   M=stage1.cfg_options.train_dataloader.dataset.pipeline.1.map_dir
#   --cfg-options "steps=[stage1,maps,eval_maps,pseudo_labels,stage3,test,summary]" \
#       stage1.input_dirs=None $M=work_dirs/compare/oaa-authors/stage1/cumulative_maps_raw
_base_ = ['./oaa-plus_synthetic.py']
stage0 = dict(config='../oaa/oaa-authors_tiny_1xb16-8e_synthetic-128x128.py')
stage0_maps = dict(source='export_raw_dir')
stage1 = dict(config='../oaa/oaa-plus-authors_tiny_1xb16-8e_synthetic-128x128.py')
