"""Map evaluators refuse a ground-truth mask holding a class id outside the class list (other
than the ignore index 255), naming the mask file, the id and the number of classes."""
import os
import os.path as osp
import re

import numpy as np
import pytest
from PIL import Image

from wsss_toolbox.evaluation import evaluate_maps, map_precision_recall, maps_iou_curve
from wsss_toolbox.maps import map_path, save_maps


def write_pair(root: str, img_id: str, gt) -> dict:
    """One foreground class (index 0) map file and its GT PNG; ``gt_label`` has 1 class."""
    save_maps(map_path(osp.join(root, 'maps'), img_id), img_id, np.array([0]),
              np.array([[[0.1, 0.9, 0.5, 0.3]]], np.float32))
    gt_path = osp.join(root, 'gt', f'{img_id}.png')
    os.makedirs(osp.dirname(gt_path), exist_ok=True)
    Image.fromarray(np.array(gt, np.uint8), mode='L').save(gt_path)
    return dict(img_id=img_id, img_path=None, seg_map_path=gt_path,
                gt_label=np.array([1.0], np.float32))


@pytest.fixture
def data(tmp_path):
    root = str(tmp_path)
    good = write_pair(root, 'good', [[0, 1, 1, 255]])
    bad = write_pair(root, 'bad', [[0, 1, 230, 0]])
    return good, bad, osp.join(root, 'maps')


def _names_file_and_id(error, sample) -> None:
    message = str(error.value)
    assert sample['seg_map_path'] in message
    assert re.search(r'class id 230\b', message)
    assert '2 classes' in message


def test_threshold_sweep_refuses_an_out_of_range_gt_id(data):
    good, bad, map_dir = data
    with pytest.raises(ValueError) as error:
        evaluate_maps([good, bad], map_dir, num_classes=2, thresholds=[0.4], normalize=False)
    _names_file_and_id(error, bad)


def test_precision_recall_refuses_an_out_of_range_gt_id(data):
    good, bad, map_dir = data
    with pytest.raises(ValueError) as error:
        map_precision_recall([good, bad], map_dir, num_classes=2)
    _names_file_and_id(error, bad)


def test_lid_curve_refuses_an_out_of_range_gt_id(data):
    good, bad, map_dir = data
    with pytest.raises(ValueError) as error:
        maps_iou_curve([good, bad], map_dir)
    _names_file_and_id(error, bad)


def test_a_valid_mask_with_ignore_pixels_still_evaluates(data):
    good, _, map_dir = data
    sweep = evaluate_maps([good], map_dir, num_classes=2, thresholds=[0.4], normalize=False)
    # map [.1, .9, .5, .3] > .4 -> [0, 1, 1, 0]; GT [0, 1, 1, ignored]: exact
    assert sweep['best_metrics']['IoU'] == [1.0, 1.0]
    recall = map_precision_recall([good], map_dir, num_classes=2)
    # >= .45 -> [0, 1, 1, (ignored)]: TP 2 of 2 predicted, 2 GT
    assert recall['recall'] == pytest.approx(1.0) and recall['precision'] == pytest.approx(1.0)
    curve = maps_iou_curve([good], map_dir)
    assert curve['num_images'] == 1 and curve['peak_iou'] == pytest.approx(1.0)
