# OAA through all three stages on the synthetic benchmark; the base of the oaa*_synthetic.py
# pipelines (configs/oaa/README.md, "Pipelines").
_base_ = ['./cam_saliency_synthetic.py']
custom_imports = dict(imports=['wsss_toolbox.methods.oaa'], allow_failed_imports=False)
stage1 = dict(config='../oaa/oaa_tiny_1xb16-8e_synthetic-128x128.py')
# stage 2 = the maps the recorder exported, evaluated on the training images
maps = dict(_delete_=True, type='CumulativeMaps', classifier='stage1')
