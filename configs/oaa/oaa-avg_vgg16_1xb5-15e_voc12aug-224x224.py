# OAA with average fusion (Eq. 10; Table 4 "AVE": 57.0 vs 58.6 mIoU for max fusion) on VOC 2012,
# otherwise the authors' settings of oaa_vgg16_1xb5-15e_voc12aug-224x224.py (their code has
# max fusion only).
_base_ = ['./oaa_vgg16_1xb5-15e_voc12aug-224x224.py']
custom_hooks = [
    dict(
        type='CumulativeMapRecorderHook',
        fusion='mean',
        score_rule='topk_sigmoid',
        attention_normalization='add_eps',
        bits=8,
        skip_first_epoch=True,
        fill_missing_in_last_epoch=True,
        export_mode='authors',
        export_raw_dir='cumulative_maps_raw',
        export_dir='cumulative_maps'),
]
