"""LoadSeedLabels refuses a seed label holding a class id the image-label dataset cannot have
(other than the ignore index 255), naming the file, the id and the number of classes."""
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from wsss_toolbox.methods.irn import LoadSeedLabels


def _results(seed_dir: str, seed) -> dict:
    seed = np.array(seed, np.uint8)
    Image.fromarray(seed, mode='L').save(osp.join(seed_dir, 'img1.png'))
    return dict(img_id='img1', img_path='img1.jpg', img=np.zeros(seed.shape + (3,), np.uint8),
                gt_label=np.array([0.0, 1.0, 0.0], np.float32))  # 3 classes -> ids 0..3, 255


def test_a_seed_with_an_impossible_class_id_is_refused_naming_the_file(tmp_path):
    results = _results(str(tmp_path), [[0, 2, 230, 255]])
    with pytest.raises(ValueError) as error:
        LoadSeedLabels(seed_dir=str(tmp_path)).transform(results)
    message = str(error.value)
    assert osp.join(str(tmp_path), 'img1.png') in message
    assert 'seed label' in message and 'class id 230' in message and '4 classes' in message


def test_a_valid_seed_is_loaded(tmp_path):
    results = _results(str(tmp_path), [[0, 2, 3, 255]])
    out = LoadSeedLabels(seed_dir=str(tmp_path)).transform(results)
    np.testing.assert_array_equal(out['gt_seg_map'], [[0, 2, 3, 255]])
    assert out['seg_fields'] == ['gt_seg_map']
