# OAA+++ on VOC 2012: the integral attention model trained on the cumulative maps of OAA++.
#   .venv/bin/python tools/train.py configs/oaa/oaa-drop_vgg16_1xb5-15e_voc12aug-224x224.py \
#       --work-dir work_dirs/oaa-drop_vgg16_1xb5-15e_voc12aug-224x224
#   .venv/bin/python tools/train.py configs/oaa/oaa-drop-plus_vgg16_1xb5-15e_voc12aug-224x224.py
_base_ = ['./oaa-plus_vgg16_1xb5-15e_voc12aug-224x224.py']
soft_label_dir = 'work_dirs/oaa-drop_vgg16_1xb5-15e_voc12aug-224x224/cumulative_maps'
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadCumulativeMaps', map_dir=soft_label_dir),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='PackWSSSInputsWithSoftMaps'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
