# OAA++ with the integral attention model on VOC 2012: OAA+ on the stored maps of OAA++
# (README, "Configs").
_base_ = ['./oaa-plus_vgg16_1xb5-15e_voc12aug-224x224.py']
soft_label_dir = 'work_dirs/oaa-drop_vgg16_1xb5-15e_voc12aug-224x224/cumulative_maps_raw'
train_pipeline = [_base_.train_pipeline[0],
                  dict(type='LoadStoredCumulativeMaps', map_dir=soft_label_dir),
                  *_base_.train_pipeline[2:]]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
