# CAM + IRN refinement through all three stages on the embedded synthetic benchmark (CPU).
#   .venv/bin/python tools/pipeline.py configs/pipelines/cam-irn_synthetic.py \
#       --work-dir work_dirs/irn/cam-irn
# The CAM demo's stage 1 and map inference (with strided maps at stride 4 for the random
# walk), its threshold + CRF labels for comparison, then IRN (configs/irn/README.md): seed
# labels (confident fg 0.30 / bg 0.05 + DenseCRF), the boundary network trained on their
# pixel pairs, the random walk (beta 10, 2^8 steps, background 0.25) -> the labels DeepLab
# trains on. Any method's maps can be refined: point `irn_seeds.maps` / `irn_labels.maps` at
# its map step (with `stride=4`). To reuse a finished CAM run, copy its `stage1/` folder and
# `.pipeline/stage1.json` into the work dir: the unchanged stage 1 is then skipped.
_base_ = ['./cam_synthetic.py']
custom_imports = dict(imports=['wsss_toolbox.methods.irn'], allow_failed_imports=False)

steps = ['stage1', 'maps', 'eval_maps', 'pseudo_labels', 'pseudo_labels_crf', 'irn_seeds',
         'irn_train', 'irn_labels', 'stage3', 'test', 'summary']
# IRN's make_cam: views flipped back and summed on the feature grid, the stride-4 maps resized
# from it (maps/feature_grid.py); configs/pipelines/cam_synthetic.py keeps the image grid
maps = dict(stride=4, aggregation='feature_grid')
irn_seeds = dict(type='IRNSeeds', maps='maps', nproc=2)
irn_train = dict(type='TrainAffinityNet', config='../irn/irn_tiny_1xb16-3e_synthetic-128x128.py',
                 seeds='irn_seeds', init_backbone_from='stage1', cfg_options=dict())
# power='steps': T built sparse from the pairs, the 2^8 steps as sparse products (equal to
# the authors' squaring of the dense matrix up to float rounding,
# tests/methods/irn/test_sparse_walk.py; time and memory linear in the pixels,
# tools/analysis/benchmark_scale.py times both); path='band': the authors' path cells
irn_labels = dict(type='RandomWalkLabels', affinity='irn_train', maps='maps', beta=10.0,
                  exp_times=8, radius=5, bg_threshold=0.25, power='steps', path='band',
                  nproc=2)
stage3 = dict(labels='irn_labels')
summary = dict(figure=dict(maps='maps', labels=['pseudo_labels_crf', 'irn_seeds', 'irn_labels'],
                           num_images=4))
