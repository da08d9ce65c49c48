# CAM baseline with the saliency-guided pseudo labels of the OAA pipelines (the fair
# reference of the OAA table): same classifier and map inference as cam_synthetic.py, but
# OAA's label generator (attention for objects, saliency for background, conflicts ignored;
# OAA paper Sec. 4 opening) and no CRF, as in oaa*_synthetic.py.
#   .venv/bin/python tools/pipeline.py configs/pipelines/cam_saliency_synthetic.py
_base_ = ['./cam_synthetic.py']
steps = ['stage1', 'maps', 'eval_maps', 'pseudo_labels', 'stage3', 'test', 'summary']
pseudo_labels = dict(generator=dict(_delete_=True, type='SaliencyLabelGenerator'))
stage3 = dict(labels='pseudo_labels')
summary = dict(figure=dict(labels=['pseudo_labels']))
