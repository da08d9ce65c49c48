# Plain CAM on the many-class variant of the synthetic benchmark (50 classes, one object class
# per image; `make_synthetic_benchmark.py data/synthetic_many --variant many-classes
# --image-size 96 --num-train 2000`): the baseline of the track-3 fixes and ADL
# (configs/lid/README.md). Tiny network from scratch on CPU.
_base_ = ['../cam/cam_tiny_1xb16-8e_synthetic-128x128.py']
data_root = 'data/synthetic_many'
num_classes = 50
# one class per image: softmax cross-entropy, as WSOL classifiers (the multi-label sigmoid
# loss stays at the prior of 50 classes for several epochs at this size)
model = dict(head=dict(num_classes=num_classes,
                       loss_cls=dict(type='SoftmaxCrossEntropyLoss')))
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
max_epochs = 10
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[8], gamma=0.1)]
# stage 2: single scale + flip (the WSOL protocol scores one map per image)
map_inference = dict(scales=(1.0, ), flip=True, fusion='mean')
pseudo_labels = dict(generator=dict(type='ThresholdLabelGenerator', bg_threshold=0.3),
                     refiners=[])
