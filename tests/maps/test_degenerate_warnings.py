"""Map inference counts the images whose written maps are empty and warns when they are most."""
import os.path as osp

import mmcv
import numpy as np
import torch
from evaluation.log_capture import logged_warnings

from wsss_toolbox.maps import load_maps, map_path
from wsss_toolbox.maps.inference import infer_maps


class ConstantModel(torch.nn.Module):
    """pred_maps: every class map is ``value`` times the red channel (0: a classifier whose
    weights and bias are zero); pred_scores: sigmoid(0) = 0.5."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def test_step(self, data):
        for image, sample in zip(data['inputs'], data['data_samples']):
            red = image[2].float() / 255 * self.value
            sample.pred_maps = torch.stack([red, red])
            sample.pred_scores = torch.full((2, ), 0.5)
        return data['data_samples']


def images(root, count=3):
    samples = []
    for index in range(count):
        image = np.zeros((6, 8, 3), np.uint8)
        image[1:4, 2:6, 2] = 200
        path = osp.join(root, 'img', f'im{index}.png')
        mmcv.imwrite(image, path)
        samples.append(dict(img_id=f'im{index}', img_path=path, gt_label=np.array([1., 0.])))
    return samples


def test_all_zero_maps_are_counted_and_warned_about(tmp_path):
    out_dir = str(tmp_path / 'maps')
    with logged_warnings() as logged:
        counts = infer_maps(ConstantModel(0.0), images(str(tmp_path)), out_dir, progress=False)
    assert counts['written'] == 3 and counts['empty'] == 3
    assert len(counts['warnings']) == 1 and logged == counts['warnings']
    message = counts['warnings'][0]
    assert f'"{out_dir}"' in message and '3 of 3 images (100 %)' in message
    assert 'check the classifier' in message
    assert not load_maps(map_path(out_dir, 'im0'))['maps'].any()


def test_healthy_maps_give_no_warning(tmp_path):
    with logged_warnings() as logged:
        counts = infer_maps(ConstantModel(1.0), images(str(tmp_path)), str(tmp_path / 'maps'),
                            progress=False)
    assert counts['empty'] == 0 and counts['warnings'] == [] and logged == []
