"""The SeeNet pipeline end to end on a tiny benchmark (stage 1, map inference with the image
labels, Algorithm 1's labels, threshold + CRF labels, DeepLab, test, summary), and the clear
error of the harmonic generator for an image without a saliency map."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from tiny_benchmark import QUICK_SUMMARY, skip_runner_env_and_config_text, tiny_pipeline_options
from tool_runs import run_ok

import wsss_toolbox.methods.seenet  # noqa: F401  (registers HarmonicLabelGenerator)
from wsss_toolbox.maps import save_maps
from wsss_toolbox.pseudo_labels.runner import make_sample_pseudo_label


def tiny_options(data_root):
    return tiny_pipeline_options(
        data_root, nproc_steps=('eval_maps', 'pseudo_labels', 'pseudo_labels_thr',
                                'pseudo_labels_crf'),
        extra=QUICK_SUMMARY)


def test_seenet_pipeline_end_to_end(tmp_path, monkeypatch):
    skip_runner_env_and_config_text(monkeypatch)
    work_dir = str(tmp_path / 'seenet')
    log = run_ok('pipeline', ['configs/pipelines/seenet_synthetic.py', '--work-dir', work_dir,
                              '--verbose', '--cfg-options', *tiny_options(str(tmp_path / 'data'))])
    assert all(f'{loss}: ' in log for loss in ('loss_a', 'loss_b', 'loss_c'))  # SeeNet trained
    assert 'step "maps": inferring maps of 12 train images' in log
    for step in ('maps', 'pseudo_labels', 'pseudo_labels_thr', 'pseudo_labels_crf'):
        assert len(os.listdir(osp.join(work_dir, step))) >= 12, step
    with open(osp.join(work_dir, 'summary.json')) as f:
        rows = {row['step']: row for row in json.load(f)['rows'] if row['kind'] == 'labels'}
    assert sorted(rows) == ['pseudo_labels', 'pseudo_labels_crf', 'pseudo_labels_thr']
    assert osp.isfile(osp.join(work_dir, 'figure.png'))
    assert 'DeepLab val' in log


def test_harmonic_labels_need_saliency_and_the_error_names_the_image(tmp_path):
    maps = np.ones((1, 4, 4), np.float32)
    save_maps(str(tmp_path / 'img_7.npz'), 'img_7', np.array([2]), maps)
    sample = dict(img_id='img_7', img_path=str(tmp_path / 'img_7.png'), saliency_path=None,
                  gt_label=np.eye(3, dtype=np.float32)[2])
    with pytest.raises(ValueError, match='"img_7" has no `saliency_path`'):
        make_sample_pseudo_label(sample, str(tmp_path),
                                 dict(type='HarmonicLabelGenerator'))
