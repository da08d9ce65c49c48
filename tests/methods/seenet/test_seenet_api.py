"""The Python API on a SeeNet model: its forward erases with the image's tags, so
`inference_maps(..., classes=...)` hands them to every view (as map inference does)."""
import os.path as osp

import numpy as np
import torch
from conftest import REPO_ROOT

from wsss_toolbox.apis import inference_maps, init_classifier

CONFIG = osp.join(REPO_ROOT, 'configs', 'seenet', 'seenet_tiny_1xb16-8e_synthetic-128x128.py')


def test_inference_maps_gives_seenet_the_tags(tmp_path):
    model = init_classifier(CONFIG, device='cpu')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), tmp_path / 'seenet.pth')
    model = init_classifier(CONFIG, str(tmp_path / 'seenet.pth'), device='cpu')
    image = np.random.default_rng(0).integers(0, 255, (40, 48, 3), dtype=np.uint8)
    result = inference_maps(model, image, scales=(1.0, 0.5), flip=True, classes=[1, 4])
    assert result['classes'].tolist() == [1, 4]
    assert result['maps'].shape == (2, 40, 48) and np.isfinite(result['maps']).all()
    assert result['maps'].max() <= 1.0 + 1e-6
