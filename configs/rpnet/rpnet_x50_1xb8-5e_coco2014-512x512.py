# RPNet on MS COCO 2014 train (80 classes) with the VOC recipe (configs/rpnet/README.md,
# "Settings of each config").
_base_ = ['./rpnet_x50_1xb8-5e_voc12aug-512x512.py']
coco_root = 'data/coco'
coco_test_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='Resize', scale=(512, 512), keep_ratio=True),
    dict(type='PackWSSSInputs'),
]
model = dict(head=dict(num_classes=80))
train_dataloader = dict(
    dataset=dict(dataset=dict(
        _delete_=True, type='COCOImageLabelDataset', data_root=coco_root,
        ann_file='annotations/instances_train2014.json',
        data_prefix=dict(img_path='train2014'),
        pipeline={{_base_.train_pipeline}})))
val_dataloader = dict(
    dataset=dict(
        _delete_=True, type='COCOImageLabelDataset', data_root=coco_root,
        ann_file='annotations/instances_val2014.json', data_prefix=dict(img_path='val2014'),
        pipeline=coco_test_pipeline))
test_dataloader = val_dataloader
