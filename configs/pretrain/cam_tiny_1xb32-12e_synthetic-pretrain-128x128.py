# Pretraining of the tiny backbone on the "synthetic ImageNet" (the generator's `pretrain`
# variant: 64 classes named by the look of a whole body -- shape, texture, colour --, none of
# them the benchmark's 8 part-coloured classes). The backbone of the last checkpoint is what
# checkpoints/tiny-convnet_synthetic-pretrain.pth ships; the whole recipe is
# `make pretrain` (configs/pretrain/README.md).
_base_ = ['../cam/cam_tiny_1xb16-8e_synthetic-128x128.py']
data_root = 'data/synthetic_pretrain'
num_classes = 64
max_epochs = 12
# one class per image, as ImageNet: softmax cross-entropy, as ImageNet classifiers train
model = dict(head=dict(num_classes=num_classes, loss_cls=dict(type='SoftmaxCrossEntropyLoss')))
optim_wrapper = dict(optimizer=dict(lr=0.05, weight_decay=1e-4))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[8, 11], gamma=0.1)]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
train_dataloader = dict(batch_size=32, dataset=dict(data_root=data_root))
val_dataloader = dict(batch_size=32, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
default_hooks = dict(checkpoint=dict(by_epoch=True, interval=1, max_keep_ckpts=1))
randomness = dict(seed=0)
