# OAA (max fusion) through all three stages on the embedded synthetic benchmark (CPU).
#   python tools/pipeline.py configs/pipelines/oaa_synthetic.py --work-dir work_dirs/oaa_synthetic
#
# Stage 1 trains the tiny classifier with the cumulative-map recorder, which exports the
# maps to <work_dir>/stage1/cumulative_maps; the stage-1 config's `maps_from_stage1` key
# makes the pipeline use those maps as stage 2's maps instead of running map inference
# (without pipeline support for that key, stage 2 falls back to inference with the final
# classifier, i.e. CAM maps of the OAA-trained model).
# Pseudo labels: OAA's saliency-guided generator (attention -> objects, saliency -> background,
# conflicts ignored; spec oaa.md §4), no CRF, as cam_saliency_synthetic.py.
data_root = 'data/synthetic'
synthetic_benchmark = dict(num_train=1500, num_val=300, image_size=128, seed=0, num_workers=2)

stage1 = dict(config='../oaa/oaa_tiny_synthetic.py', cfg_options=dict())
# the maps are evaluated on the training images (best background threshold, recall and
# precision at 50 % of the maximum as the paper's Table 11)
maps = dict(split='train')
pseudo_labels = dict(
    generator=dict(type='SaliencyLabelGenerator'),
    refiners=[],
    train_on=0,
    nproc=2)
# no ImageNet weights here: DeepLab's backbone starts from the stage-1 classifier's
stage3 = dict(config='../deeplab/deeplab-largefov_tiny_synthetic.py', cfg_options=dict(),
              init_backbone_from_stage1=True)
report = dict(figure_images=4)
