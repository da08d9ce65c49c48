# OAA (max fusion) through all three stages on the embedded synthetic benchmark (CPU).
#   .venv/bin/python tools/pipeline.py configs/pipelines/oaa_synthetic.py \
#       --work-dir work_dirs/oaa_synthetic
#
# Stage 1 trains the tiny classifier with the cumulative-map recorder; OAA's `CumulativeMaps`
# step (wsss_toolbox/methods/oaa/steps.py) takes the maps the recorder exported as stage 2's
# maps instead of running map inference.
# Pseudo labels: OAA's saliency-guided generator (attention -> objects, saliency -> background,
# conflicts ignored; paper Sec. 4 (opening), authors' gen_gt.py), no CRF, as
# cam_saliency_synthetic.py.
_base_ = ['./cam_saliency_synthetic.py']
custom_imports = dict(imports=['wsss_toolbox.methods.oaa'], allow_failed_imports=False)
stage1 = dict(config='../oaa/oaa_tiny_1xb16-8e_synthetic-128x128.py')
# the maps are evaluated on the training images (best background threshold, recall and
# precision at 50 % of the maximum as the paper's Table 11)
maps = dict(_delete_=True, type='CumulativeMaps', classifier='stage1')
