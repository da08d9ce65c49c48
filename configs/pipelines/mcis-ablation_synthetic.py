# MCIS map-inference ablations on the synthetic benchmark (maps only, no DeepLab): the number of
# related images of the paper's multi-round inference (Table 5: 1, 3, 5; 0 = single-round, the
# `maps_single` of mcis_synthetic.py), the inference mode (Table 2: single-round, multi-round
# with 3 related images, the authors' fusion = mcis_synthetic.py's `maps`) and the fusion
# without its related-image map (maps 1-4 only). Run it in the work dir of an
# mcis_synthetic.py run:
# stage 1 is reused (same fingerprint), only the map steps run:
#   .venv/bin/python tools/pipeline.py configs/pipelines/mcis-ablation_synthetic.py \
#       --work-dir work_dirs/mcis/main
_base_ = ['./mcis_synthetic.py']
steps = ['stage1']
for _name, _mode, _related in (('multi_r1', 'multi_round', 1), ('multi_r3', 'multi_round', 3),
                               ('multi_r5', 'multi_round', 5), ('fusion_r0', 'fusion', 0)):
    steps += [f'maps_{_name}', f'eval_maps_{_name}']
    locals()[f'maps_{_name}'] = dict(type='MCISInferMaps', classifier='stage1', split='train',
                                     mode=_mode, num_related=_related, related_seed=0)
    locals()[f'eval_maps_{_name}'] = dict(type='EvaluateMaps', maps=f'maps_{_name}', nproc=2)
steps += ['summary_ablation']
summary_ablation = dict(type='Summarize', steps=[s for s in steps[1:] if s.startswith('eval')])
