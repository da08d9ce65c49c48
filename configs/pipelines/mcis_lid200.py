# LID 2020 track 1 with MCIS (the track-1 winner's method; configs/mcis/README.md): MCIS's LID
# classifier config (VGG-16, pairs sharing a class) on the layout of configs/lid/README.md (class
# list LID/classes.txt), single-round maps of the training images (the LID'20 setting of the
# MCIS paper, Sec. 4.4), background-threshold labels from the classifier config, then the same
# stage 3, val metrics (mIoU, mean accuracy, pixel accuracy), test result files and parameter
# rule as configs/pipelines/cam_lid200.py.
#   .venv/bin/python tools/pipeline.py configs/pipelines/mcis_lid200.py --work-dir DIR
_base_ = ['./cam_lid200.py']
custom_imports = dict(imports=['wsss_toolbox.methods.mcis'], allow_failed_imports=False)
_class_file = 'LID/classes.txt'
stage1 = dict(
    config='../mcis/mcis_vgg16_1xb5-15e_lid20-256x256.py',
    cfg_options=dict(
        train_dataloader=dict(dataset=dict(dataset=dict(class_file=_class_file))),
        val_dataloader=dict(dataset=dict(class_file=_class_file))))
maps = dict(_delete_=True, type='MCISInferMaps', classifier='stage1', split='train',
            mode='single_round', num_related=0, related_seed=0, input_size=(256, 256))
pseudo_labels = dict(generator=dict(type='ThresholdLabelGenerator', bg_threshold=0.2))
