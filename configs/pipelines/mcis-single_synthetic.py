# MCIS with single-round maps only (the basic branch of the co-attention-trained classifier,
# Table 2's "Ours, single-round"), otherwise mcis_synthetic.py. Given the work dir of an
# mcis_synthetic.py run, stage 1 is reused (same fingerprint) and only the rest runs:
#   .venv/bin/python tools/pipeline.py configs/pipelines/mcis-single_synthetic.py \
#       --work-dir work_dirs/mcis-single
_base_ = ['./mcis_synthetic.py']
steps = ['stage1', 'maps', 'eval_maps', 'pseudo_labels', 'stage3', 'test', 'summary']
maps = dict(mode='single_round')
summary = dict(figure=dict(labels=['pseudo_labels']))
