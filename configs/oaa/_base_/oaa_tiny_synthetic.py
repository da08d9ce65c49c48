# What every OAA config on the synthetic benchmark shares (configs/oaa/README.md, "Configs").
_base_ = ['../../cam/cam_tiny_1xb16-8e_synthetic-128x128.py']
custom_imports = dict(imports=['wsss_toolbox.methods.oaa'], allow_failed_imports=False)
# stage 2b: saliency-guided labels, no CRF (README, "Configs")
pseudo_labels = dict(_delete_=True, generator=dict(type='SaliencyLabelGenerator'), refiners=[])
