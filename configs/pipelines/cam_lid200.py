# LID 2020 track 1 (WSSS, ILSVRC-LID-200, image labels only): CAM maps of the DET training
# images -> threshold pseudo labels -> DeepLab-LargeFOV (ResNet-101, < 150 M parameters:
# the summary checks it) -> the leaderboard's metrics on the 5,000 val masks side by side
# (mIoU, mean accuracy, pixel accuracy) -> the result files of the 10,000 test images
# (`test_results/`: one PNG per image, 0 = background, k + 1 = class k of LID/classes.txt;
# the folder's classes.txt and README.txt say so). Layout: configs/lid/README.md.
#   .venv/bin/python tools/pipeline.py configs/pipelines/cam_lid200.py --work-dir DIR
data_root = 'data/ILSVRC'
steps = ['stage1', 'maps', 'pseudo_labels', 'stage3', 'val', 'test_results', 'summary']
stage1 = dict(type='TrainClassifier', config='../lid/cam_vgg16_1xb16-10e_lid200-224x224.py',
              cfg_options=dict())
maps = dict(type='InferMaps', classifier='stage1', split='train')
pseudo_labels = dict(type='MakePseudoLabels', maps='maps',
                     generator=dict(type='ThresholdLabelGenerator', bg_threshold=0.3),
                     evaluate=False, nproc=4)
stage3 = dict(type='TrainSegmentor',
              config='../lid/deeplab-largefov_r101_1xb10-40k_lid200-pseudo-321x321.py',
              labels='pseudo_labels', cfg_options=dict())
val = dict(type='TestSegmentorLID', segmentor='stage3')
test_results = dict(type='WriteSegmentationResults', segmentor='stage3',
                    dataset_key='test_split')
summary = dict(type='Summarize')
