"""The Python API on a SeeNet model: its forward erases with the image's tags, so
`inference_maps(..., classes=...)` hands them to every view (as map inference does); with the
released notebook's inference options the written maps follow houqb/SeeNet vis.ipynb (one
forward per tag, bicubic resize before the normalisation, flip fused by the max), checked
against a transcription of the notebook's cells."""
import os.path as osp

import numpy as np
import torch
from conftest import REPO_ROOT

from wsss_toolbox.apis import inference_maps, init_classifier
from wsss_toolbox.structures import WSSSDataSample

from .test_seenet_head import notebook_att

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


def notebook_forward(model, bgr, label):
    """vis.ipynb L110-125 (`forward`) with our network in place of the Caffe net: the label
    input holds class `label` only (L114-115), the maps of that class are read (L117-118),
    resized bicubically to the image (L119-120), negatives set to 0, divided by max + 1e-8 and
    fused by the max (L121-125). (The notebook also warps the image to 256 x 256 first; here the
    network sees the image at its size, as the toolbox's map inference does.)"""
    height, width = bgr.shape[:2]
    sample = WSSSDataSample(metainfo=dict(img_shape=(height, width)))
    sample.gt_label = torch.zeros(model.head.num_classes)
    sample.gt_label[label] = 1
    data = model.data_preprocessor(dict(
        inputs=[torch.from_numpy(np.ascontiguousarray(bgr.transpose(2, 0, 1)))],
        data_samples=[sample]), False)
    with torch.no_grad():
        out = model(**data, mode='tensor')
    return notebook_att(out['cams'][0, label].numpy(), out['cams_b'][0, label].numpy(),
                        height, width)


def test_notebook_inference_options_give_the_notebook_maps():
    torch.manual_seed(0)
    model = init_classifier(CONFIG, device='cpu', cfg_options={
        'model.head.inference_erasing': 'per_class',
        'model.head.inference_resize': 'bicubic_before_fusion'})
    bgr = np.random.default_rng(1).integers(0, 255, (40, 48, 3), dtype=np.uint8)
    tags = [2, 5]
    result = inference_maps(model, bgr[..., ::-1], scales=(1.0, ), flip=True, fusion='max',
                            classes=tags)
    for index, label in enumerate(tags):
        # vis.ipynb L175-180: per tag, the image and its mirror, flipped back, fused by the max
        att = notebook_forward(model, bgr, label)
        att_flip = notebook_forward(model, np.ascontiguousarray(bgr[:, ::-1]), label)
        att = np.maximum(att, att_flip[:, ::-1])
        np.testing.assert_allclose(result['maps'][index], att, atol=1e-4)
