# CAM + IRN on PASCAL VOC 2012 (GPU): the CAM VOC pipeline's stage 1 and maps (with strided
# maps at stride 4), IRN seeds, the ResNet-50 boundary network (3 epochs, batch 32, lr 0.1),
# the random walk (2^8 sparse steps), DeepLab-LargeFOV on the walked labels.
#   python tools/pipeline.py configs/pipelines/cam-irn_voc12.py --work-dir work_dirs/irn/voc
_base_ = ['./cam_voc12.py']
custom_imports = dict(imports=['wsss_toolbox.methods.irn'], allow_failed_imports=False)
steps = ['stage1', 'maps', 'eval_maps', 'pseudo_labels', 'pseudo_labels_crf', 'irn_seeds',
         'irn_train', 'irn_labels', 'stage3', 'test', 'summary']
# IRN's make_cam (step/make_cam.py L32-52): views flipped back and summed on the feature grid,
# the stride-4 maps resized from it (maps/feature_grid.py)
maps = dict(stride=4, aggregation='feature_grid')
irn_seeds = dict(type='IRNSeeds', maps='maps', nproc=8)
irn_train = dict(type='TrainAffinityNet', config='../irn/irn_r50_1xb32-3e_voc12aug-512x512.py',
                 seeds='irn_seeds', cfg_options=dict())
# power='steps': T built sparse from the pairs and applied 2^8 times (the authors square the
# dense n x n matrix 8 times; the same walk up to float rounding,
# tests/methods/irn/test_sparse_walk.py): 0.3 s and 30 MB per VOC image on one CPU core,
# against ~270 s and 1.4 GB for the squaring (configs/irn/README.md). power='squaring' is
# the authors' arithmetic, for a GPU.
irn_labels = dict(type='RandomWalkLabels', affinity='irn_train', maps='maps', beta=10.0,
                  exp_times=8, radius=5, bg_threshold=0.25, power='steps', path='band',
                  nproc=8)
stage3 = dict(labels='irn_labels')
summary = dict(figure=dict(labels=['pseudo_labels_crf', 'irn_seeds', 'irn_labels']))
