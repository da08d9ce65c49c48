# MCIS for LID 2020 track 1 (ILSVRC-LID-200, 200 classes): the VOC recipe on the ILSVRC DET
# layout, single-round maps, background 0.2 (configs/mcis/README.md, "Settings of each config").
_base_ = ['./mcis_vgg16_1xb5-15e_voc12aug-256x256.py']
data_root = 'data/ILSVRC'
num_classes = 200
input_size = (256, 256)
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='Resize', scale=input_size, keep_ratio=False),
    dict(type='ColorJitterBGR', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1,
         backend='pil'),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadWSSSAnnotations'),  # before any geometric transform
    dict(type='Resize', scale=input_size, keep_ratio=False),
    dict(type='PackWSSSInputs'),
]
model = dict(head=dict(num_classes=num_classes))
lid_train = dict(
    type='LIDImageLabelDataset',
    data_root=data_root,
    ann_file='ImageSets/DET/train.txt',
    class_file='classes.txt',
    data_prefix=dict(img_path='Data/DET/train', ann_path='Annotations/DET/train'),
    pipeline=train_pipeline)
train_dataloader = dict(dataset=dict(dataset=dict(_delete_=True, **lid_train)))
val_dataloader = dict(dataset=dict(
    _delete_=True,
    **dict(lid_train, ann_file='ImageSets/DET/val.txt',
           data_prefix=dict(img_path='Data/DET/val', ann_path='Annotations/DET/val'),
           pipeline=test_pipeline)))
test_dataloader = val_dataloader
mcis_inference = dict(mode='single_round', num_related=0, related_seed=0, input_size=input_size,
                      fusion_resize='cv2_uint8')
pseudo_labels = dict(
    _delete_=True, generator=dict(type='ThresholdLabelGenerator', bg_threshold=0.2),
    refiners=[])
