# The TinyConvNet backbone pretrained on the synthetic "ImageNet" and shipped with the toolbox
# (configs/pretrain/README.md). A config that inherits this file starts a TinyConvNet from it
# the way ImageNet weights are used:
#   model = dict(backbone=dict(init_cfg=_base_._pretrained_backbone))
_pretrained_backbone = dict(
    type='Pretrained', checkpoint='wsss_toolbox://tiny-convnet_synthetic-pretrain')
# the same as `cfg_options` of a pipeline's training step
_pretrained_model = dict(model=dict(backbone=dict(init_cfg=_pretrained_backbone)))
