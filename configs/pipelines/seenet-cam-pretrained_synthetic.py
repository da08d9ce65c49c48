# CAM through SeeNet's stages 2 and 3 with the pretrained backbone: stage 1 and stage 3 start from
# the TinyConvNet pretrained on the synthetic "ImageNet" (configs/pretrain/README.md) instead of
# random weights / the stage-1 classifier; every other setting is seenet-cam_synthetic.py's.
_base_ = ['./seenet-cam_synthetic.py', '../_base_/pretrained/tiny_convnet_synthetic.py']
stage1 = dict(cfg_options=_base_._pretrained_model)
stage3 = dict(init_backbone_from=None, cfg_options=_base_._pretrained_model)
