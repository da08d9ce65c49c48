# The demo: CAM baseline through all three stages on the embedded synthetic benchmark (CPU).
#   python tools/pipeline.py configs/pipelines/cam_synthetic.py --work-dir work_dirs/demo
# The benchmark is generated into data_root on first use (about a minute).
data_root = 'data/synthetic'
synthetic_benchmark = dict(num_train=1500, num_val=300, image_size=128, seed=0, num_workers=2)

stage1 = dict(config='../cam/cam_tiny_synthetic.py', cfg_options=dict())
# map inference on the training images (multi-scale + flip, summed per class); the map
# evaluation sweeps the background threshold against the training masks
maps = dict(split='train', scales=(1.0, 0.75, 1.5), flip=True, fuse='sum')
# IRN/SEAM-style background threshold, then DenseCRF; stage 3 trains on the CRF output
pseudo_labels = dict(
    generator=dict(type='ThresholdLabelGenerator', bg_threshold=0.3),
    refiners=[dict(type='DenseCRFRefiner')],
    train_on=-1,
    nproc=2)
# no ImageNet weights here: DeepLab's backbone starts from the stage-1 classifier's
stage3 = dict(config='../deeplab/deeplab-largefov_tiny_synthetic.py', cfg_options=dict(),
              init_backbone_from_stage1=True)
report = dict(figure_images=4)
