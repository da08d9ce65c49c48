"""LID track 1, stage 3: a val mask with a class id past the 201 classes stops evaluation (the
test dataset and IoUMetric of the real config, as tools/test.py builds them) instead of giving
a silently lower mIoU."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from wsss_toolbox.registry import DATASETS, METRICS

from .lid_layouts import REPO, write_lid200

CONFIG = osp.join(REPO, 'configs', 'lid', 'deeplab-largefov_r101_1xb10-40k_lid200-pseudo-'
                  '321x321.py')


def evaluate(cfg, predictions=None):
    """mIoU of ``cfg.test_evaluator`` over ``cfg.test_dataloader.dataset``, each image
    predicted as ``predictions[i]`` (default: its own ground truth)."""
    init_default_scope('wsss_toolbox')
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    metric = METRICS.build(cfg.test_evaluator)
    metric.dataset_meta = dataset.metainfo
    for index in range(len(dataset)):
        sample = dataset[index]['data_samples']
        pred = sample.gt_sem_seg.data if predictions is None else predictions[index]
        sample.pred_sem_seg = PixelData(data=pred)
        metric.process({}, [sample.to_dict()])
    return metric.compute_metrics(metric.results)['mIoU']


def as_tensor(mask):
    return torch.from_numpy(mask[None].astype(np.int64))


@pytest.fixture(scope='module')
def lid_val(tmp_path_factory):
    root = write_lid200(str(tmp_path_factory.mktemp('lid') / 'ILSVRC'), num_train=2,
                        num_val=2, num_test=0)
    cfg = Config.fromfile(CONFIG)
    cfg.test_dataloader.dataset.data_root = root
    return root, cfg


def test_bad_val_mask_stops_evaluation_instead_of_lowering_the_miou(lid_val):
    root, cfg = lid_val
    mask_dir = osp.join(root, 'LID', 'track1', 'val')
    with open(osp.join(root, 'LID', 'track1', 'val.txt')) as f:
        bad_id = f.read().split()[-1]
    path = osp.join(mask_dir, f'{bad_id}.png')
    intact = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    assert evaluate(cfg) == pytest.approx(100.0)  # each mask as its own prediction

    corrupted = intact.copy()
    corrupted[:8, :8] = 230
    cv2.imwrite(path, corrupted)
    try:
        # what mmseg's IoUMetric does with it: the 230 pixels leave the ground truth but not
        # the prediction (the intact mask), so the same prediction scores lower
        init_default_scope('wsss_toolbox')
        metric = METRICS.build(cfg.test_evaluator)
        metric.dataset_meta = DATASETS.build(cfg.test_dataloader.dataset).metainfo
        for gt in (intact, corrupted):
            metric.process({}, [dict(pred_sem_seg=dict(data=as_tensor(intact)),
                                     gt_sem_seg=dict(data=as_tensor(gt)))])
        assert metric.compute_metrics(metric.results)['mIoU'] < 100.0

        # the dataset of the config refuses the mask, naming it, the id and the classes
        with pytest.raises(ValueError, match=rf'^mask {path} holds class id 230, but the '
                           r'dataset has 201 classes \(0\.\.200\) and ignore index 255'):
            evaluate(cfg)
    finally:
        cv2.imwrite(path, intact)
