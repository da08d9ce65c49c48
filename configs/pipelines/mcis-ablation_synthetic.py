# MCIS map-inference ablations on the synthetic benchmark (maps only, no DeepLab): the number of
# related images with the authors' fusion (Table 5: 0, 1, 3, 5; 3 is mcis_synthetic.py's
# `maps`) and the inference mode (Table 2: single-round, multi-round = the paper's Sec. 3.4
# average over 3 related images, fusion). Run it in the work dir of an mcis_synthetic.py run:
# stage 1 is reused (same fingerprint), only the map steps run:
#   .venv/bin/python tools/pipeline.py configs/pipelines/mcis-ablation_synthetic.py \
#       --work-dir work_dirs/mcis/main
_base_ = ['./mcis_synthetic.py']
steps = ['stage1']
for _name, _mode, _related in (('fusion_r0', 'fusion', 0), ('fusion_r1', 'fusion', 1),
                               ('fusion_r5', 'fusion', 5), ('multi_r1', 'multi_round', 1),
                               ('multi_r3', 'multi_round', 3)):
    steps += [f'maps_{_name}', f'eval_maps_{_name}']
    locals()[f'maps_{_name}'] = dict(type='MCISInferMaps', classifier='stage1', split='train',
                                     mode=_mode, num_related=_related, related_seed=0)
    locals()[f'eval_maps_{_name}'] = dict(type='EvaluateMaps', maps=f'maps_{_name}', nproc=2)
steps += ['summary_ablation']
summary_ablation = dict(type='Summarize', steps=[s for s in steps[1:] if s.startswith('eval')])
