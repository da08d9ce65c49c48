# CAM + IRN (its boundary network starts from the stage-1 classifier, as before) with the
# pretrained backbone: stage 1 and stage 3 start from the TinyConvNet pretrained on the synthetic
# "ImageNet" (configs/pretrain/README.md) instead of random weights / the stage-1 classifier;
# every other setting is cam-irn_synthetic.py's.
_base_ = ['./cam-irn_synthetic.py', '../_base_/pretrained/tiny_convnet_synthetic.py']
stage1 = dict(cfg_options=_base_._pretrained_model)
stage3 = dict(init_backbone_from=None, cfg_options=_base_._pretrained_model)
