# OAA with average fusion (Eq. 10; Table 4 "AVE": 57.0 vs 58.6 mIoU for max fusion) on VOC 2012.
_base_ = ['./oaa_vgg16_1xb5-15e_voc12aug-224x224.py']
custom_hooks = [
    dict(
        type='CumulativeMapRecorderHook',
        fusion='mean',
        score_rule='paper',
        bits=8,
        export_dir='cumulative_maps'),
]
