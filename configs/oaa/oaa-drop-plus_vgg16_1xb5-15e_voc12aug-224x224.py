# OAA+++ on VOC 2012: the integral attention model trained on the stored cumulative maps of
# OAA++, authors' settings (see oaa-plus_vgg16_1xb5-15e_voc12aug-224x224.py).
#   .venv/bin/python tools/train.py configs/oaa/oaa-drop_vgg16_1xb5-15e_voc12aug-224x224.py \
#       --work-dir work_dirs/oaa-drop_vgg16_1xb5-15e_voc12aug-224x224
#   .venv/bin/python tools/train.py configs/oaa/oaa-drop-plus_vgg16_1xb5-15e_voc12aug-224x224.py
_base_ = ['./oaa-plus_vgg16_1xb5-15e_voc12aug-224x224.py']
soft_label_dir = 'work_dirs/oaa-drop_vgg16_1xb5-15e_voc12aug-224x224/cumulative_maps_raw'
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadStoredCumulativeMaps', map_dir=soft_label_dir),
    dict(type='ResizeShortSide', size=224, interpolation='bicubic', backend='pil',
         long_side_rounding='round'),
    dict(type='ColorJitterBGR', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1,
         backend='pil'),
    dict(type='PackWSSSInputsWithSoftMaps'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
