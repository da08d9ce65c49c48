# RPNet on MS COCO 2014 train (80 classes; background comes from the map threshold) with the
# VOC recipe, its non-local blocks and map inference included (the paper gives no COCO
# backbone or schedule: Sec. IV-A/B name the data set only).
#
#   python tools/train.py configs/rpnet/rpnet_x50_1xb8-5e_coco2014-512x512.py \
#       --work-dir work_dirs/rpnet_x50_1xb8-5e_coco2014-512x512 \
#       --cfg-options model.backbone.pretrained=checkpoints/resnext50_32x4d-7cdf4587.pth
# Layout: data/coco/annotations/instances_{train,val}2014.json, data/coco/{train,val}2014/
# (wsss_toolbox/datasets/coco.py); class-index PNG masks for map evaluation are converted
# beforehand and named by data_prefix.seg_map_path.
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
