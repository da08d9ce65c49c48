"""Map evaluation: threshold sweep, recall/precision at 50% of max, LID curve, errors."""
import os
import os.path as osp

import mmcv
import numpy as np
import pytest
from pseudo_labels.stage2_data import write_stage2_data

from wsss_toolbox.evaluation import (
    ConfusionMatrix,
    evaluate_maps,
    lid_iou_curve,
    map_precision_recall,
    maps_iou_curve,
)
from wsss_toolbox.maps import load_maps, map_path, save_maps
from wsss_toolbox.pseudo_labels import ThresholdLabelGenerator, load_label


def write_pair(root, img_id, classes, maps, gt):
    save_maps(map_path(osp.join(root, 'maps'), img_id), img_id, np.array(classes),
              np.array(maps, np.float32))
    gt_path = osp.join(root, 'gt', f'{img_id}.png')
    mmcv.imwrite(np.array(gt, np.uint8), gt_path)
    return dict(img_id=img_id, img_path=None, seg_map_path=gt_path)


@pytest.fixture
def hand_made(tmp_path):
    root = str(tmp_path)
    samples = [
        write_pair(root, 'a', [0], [[[0.1, 0.9, 0.5, 0.3]]], [[0, 1, 1, 0]]),
        write_pair(root, 'b', [0], [[[1.0, 0.4, 0.6, 0.8]]], [[1, 1, 1, 255]]),
    ]
    return samples, osp.join(root, 'maps')


def test_threshold_sweep_hand_computed(hand_made):
    samples, map_dir = hand_made
    result = evaluate_maps(samples[:1], map_dir, num_classes=2, thresholds=[0.2, 0.4, 0.6],
                           normalize=False)
    # t=.2: pred [0,1,1,1]: bg 1/2, fg 2/3; t=.4: exact; t=.6: pred [0,1,0,0]: bg 2/3, fg 1/2
    np.testing.assert_allclose(result['miou_curve'], [7 / 12, 1.0, 7 / 12])
    assert result['best_threshold'] == 0.4 and result['num_images'] == 1
    assert result['best_metrics']['IoU'] == [1.0, 1.0]


def test_sweep_matches_threshold_generator(tmp_path):
    samples = write_stage2_data(str(tmp_path), num_images=4)
    map_dir = str(tmp_path / 'maps')
    thresholds = [0.1, 0.35, 0.6]
    result = evaluate_maps(samples, map_dir, 4, thresholds, nproc=2)
    for threshold, miou in zip(thresholds, result['miou_curve']):
        counter = ConfusionMatrix(4)
        for sample in samples:
            record = load_maps(map_path(map_dir, sample['img_id']))
            label = ThresholdLabelGenerator(threshold)(record['maps'], record['classes'])
            counter.update(label, load_label(sample['seg_map_path']))
        assert miou == pytest.approx(counter.metrics()['mIoU'])


def test_precision_recall_at_half_max(hand_made):
    samples, map_dir = hand_made
    result = map_precision_recall(samples, map_dir, num_classes=2)
    # a: >= .45 -> [0,1,1,0] = GT (TP 2, pred 2, gt 2)
    # b: >= .5 -> [1,0,1,(1 ignored)]; GT [1,1,1,ignored] (TP 2, pred 2, gt 3)
    assert result['recall'] == pytest.approx(4 / 5)
    assert result['precision'] == pytest.approx(1.0)
    assert result['noise'] == pytest.approx(0.0)
    assert result['per_class_recall'] == [pytest.approx(0.8)]


def test_missing_ground_truth_or_map_is_a_clear_error(hand_made):
    samples, map_dir = hand_made
    with pytest.raises(ValueError, match='seg_map_path'):
        evaluate_maps([dict(samples[0], seg_map_path=None)], map_dir, 2)
    os.remove(osp.join(map_dir, 'b.npz'))
    with pytest.raises(FileNotFoundError, match=r'b\.npz'):
        evaluate_maps(samples, map_dir, 2)


def test_lid_curve_hand_computed():
    single = lid_iou_curve([np.array([[0, 10, 20, 30]])], [np.array([[0, 0, 1, 1]])])
    curve = single['curve']
    assert curve.shape == (256,)
    # scaled [0, 85, 170, 255]; foreground iff scaled > t
    assert curve[0] == pytest.approx(2 / 3) and curve[84] == pytest.approx(2 / 3)
    assert curve[85] == 1.0 and curve[169] == 1.0
    assert curve[170] == 0.5 and curve[254] == 0.5 and curve[255] == 0.0
    assert single['peak_iou'] == 1.0 and single['peak_threshold'] == 85
    # pooled over images: a second, constant map predicts nothing but adds 2 GT pixels
    pooled = lid_iou_curve([np.array([[0, 10, 20, 30]]), np.array([[5.0, 5.0]])],
                           [np.array([[0, 0, 1, 1]]), np.array([[1, 1]])])
    assert pooled['curve'][0] == pytest.approx(2 / 5)
    assert pooled['peak_iou'] == pytest.approx(0.5) and pooled['peak_threshold'] == 85
    ignored = lid_iou_curve([np.array([[30, 10, 20, 0]])], [np.array([[255, 0, 1, 1]])])
    assert ignored['curve'][0] == pytest.approx(1 / 3)  # pred {1, 2}: the 255 pixel skipped


def test_lid_curve_matches_brute_force():
    rng = np.random.default_rng(3)
    maps = [rng.random((6, 7)) * 5 for _ in range(3)]
    masks = [rng.random((6, 7)) < 0.4 for _ in range(3)]
    curve = lid_iou_curve(maps, masks)['curve']
    for threshold in (0, 17, 100, 200, 254):
        inter = union = 0
        for values, mask in zip(maps, masks):
            pred = (values - values.min()) / (values.max() - values.min()) * 255 > threshold
            inter += (pred & mask).sum()
            union += (pred | mask).sum()
        assert curve[threshold] == pytest.approx(inter / union)
    with pytest.raises(ValueError, match='different number'):
        lid_iou_curve(maps, masks[:2])


def test_maps_iou_curve_uses_max_over_classes(tmp_path):
    samples = write_stage2_data(str(tmp_path), num_images=3)
    map_dir = str(tmp_path / 'maps')
    result = maps_iou_curve(samples, map_dir)
    agnostic, masks = [], []
    for sample in samples:
        agnostic.append(load_maps(map_path(map_dir, sample['img_id']))['maps'].max(axis=0))
        gt = load_label(sample['seg_map_path'])
        masks.append(np.where(gt == 255, 255, gt > 0).astype(np.uint8))
    np.testing.assert_allclose(result['curve'], lid_iou_curve(agnostic, masks)['curve'])
    assert result['peak_iou'] > 0.5  # the synthetic maps are informative


def test_map_files_are_checked_against_the_image(hand_made):
    """Before: another image's map file was scored against this image's ground truth, and a
    NaN crashed the confusion matrix without naming any file."""
    samples, map_dir = hand_made
    save_maps(map_path(map_dir, 'a'), 'b', np.array([0]), np.zeros((1, 1, 4)))
    with pytest.raises(ValueError, match=r'a\.npz" belongs to image "b", not "a"'):
        evaluate_maps(samples, map_dir, num_classes=2)
    save_maps(map_path(map_dir, 'a'), 'a', np.array([1]), np.zeros((1, 1, 4)))
    tagged = [dict(sample, gt_label=np.array([1, 0], np.float32)) for sample in samples]
    with pytest.raises(ValueError, match=r'a\.npz" holds maps of class\(es\) \[1\]'):
        map_precision_recall(tagged, map_dir, num_classes=3)
    np.savez_compressed(map_path(map_dir, 'a'), img_id=np.array('a'), classes=np.array([0]),
                        maps=np.full((1, 1, 4), np.nan, np.float16))
    with pytest.raises(ValueError, match=r'a\.npz": maps contain 4 NaN'):
        maps_iou_curve(samples, map_dir)
