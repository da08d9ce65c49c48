# LID 2020 track 1, stage 3: DeepLab-LargeFOV (ResNet-101, 62.65 M parameters, under the
# track's 150 M) trained on the stage-2 pseudo labels of the ILSVRC DET training images,
# 201 classes (background + the 200 of LID/classes.txt, in that order). Validation: the 5,000
# LID val masks (mIoU, mean accuracy, pixel accuracy: the leaderboard's three numbers). The
# result files of the 10,000 test images (no masks) are written by the pipeline's
# `WriteSegmentationResults` step (configs/pipelines/cam_lid200.py):
# one PNG per image, named <img_id>.png, uint8, 0 = background, k + 1 = class k of
# LID/classes.txt. Layout: configs/lid/cam_vgg16_1xb16-10e_lid200-224x224.py.
_base_ = ['../deeplab/deeplab-largefov_r101_1xb10-15k_voc12aug-pseudo-321x321.py']
data_root = 'data/ILSVRC'
class_file = 'LID/classes.txt'
num_classes = 201
max_iters = 40000
pseudo_label_dir = 'work_dirs/pseudo_labels/lid200_train'
model = dict(decode_head=dict(num_classes=num_classes))
lid_dataset = dict(type='LIDSegDataset', data_root=data_root, class_file=class_file,
                   img_suffix='.JPEG', seg_map_suffix='.png')
train_dataloader = dict(dataset=dict(
    lid_dataset, _delete_=True, ann_file='ImageSets/DET/train.txt',
    data_prefix=dict(img_path='Data/DET/train'), pseudo_label_dir=pseudo_label_dir,
    pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(dataset=dict(
    lid_dataset, _delete_=True, ann_file='LID/track1/val.txt',
    data_prefix=dict(img_path='Data/DET/val', seg_map_path='LID/track1/val'),
    pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
# the test split (images only): the dataset of the result files
test_split = dict(lid_dataset, ann_file='LID/track1/test.txt',
                  data_prefix=dict(img_path='Data/DET/test'),
                  pipeline=[dict(type='LoadImageFromFile'), dict(type='PackSegInputs')])
# mIoU, mean accuracy (mAcc) and pixel accuracy (aAcc), as the track-1 leaderboard
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
param_scheduler = [
    dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=10000)
