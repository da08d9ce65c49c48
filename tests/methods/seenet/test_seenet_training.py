"""SeeNet's stage-2 map inference (the views carry the image labels; the map is the max of the
normalised S_A and S_B maps, fused over the flip by the max)."""
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope

from wsss_toolbox.maps import load_maps
from wsss_toolbox.maps.inference import infer_maps
from wsss_toolbox.registry import DATASETS, MODELS
from wsss_toolbox.structures import WSSSDataSample
from wsss_toolbox.utils import register_all_modules

CONFIG = osp.join('configs', 'seenet', 'seenet_tiny_1xb16-8e_synthetic-128x128.py')
NUM_TRAIN = 8


@pytest.fixture(scope='module')
def benchmark(tmp_path_factory) -> str:
    from wsss_toolbox.datasets.synthetic_benchmark import generate_synthetic_benchmark
    root = str(tmp_path_factory.mktemp('seenet_synthetic'))
    generate_synthetic_benchmark(root, num_train=NUM_TRAIN, num_val=2, image_size=32, seed=1)
    return root


# The 1-process == 2-process check of training runs for MCIS (test_mcis_training.py, the class-
# pair sampler over ranks); SeeNet's training has no distributed code of its own (mmengine's
# DefaultSampler). Its losses are logged by the pipeline's stage 1
# (test_seenet_pipeline.py) and computed by hand in test_seenet_head.py.


def test_map_inference_passes_labels_and_fuses_a_and_b_by_max(benchmark, tmp_path):
    register_all_modules(init_default_scope=False)
    init_default_scope('wsss_toolbox')
    torch.manual_seed(0)
    cfg = Config.fromfile(CONFIG)
    model = MODELS.build(cfg.model).eval()
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=benchmark,
                                  pipeline=[]))
    samples = [dataset.get_data_info(i) for i in range(2)]
    infer_maps(model, samples, str(tmp_path), **cfg.map_inference)
    for sample in samples:
        record = load_maps(osp.join(str(tmp_path), f"{sample['img_id']}.npz"))
        classes = np.flatnonzero(np.asarray(sample['gt_label']) > 0)
        assert record['classes'].tolist() == classes.tolist()
        # by hand: the image and its mirror, each max(M^_A, M^_B), mirror flipped back, max
        import mmcv
        image = mmcv.imread(sample['img_path'], channel_order='bgr')
        fused = []
        for flip in (False, True):
            view = image[:, ::-1] if flip else image
            data_sample = WSSSDataSample(metainfo=dict(img_shape=view.shape[:2]))
            data_sample.gt_label = torch.as_tensor(sample['gt_label'], dtype=torch.float32)
            data = model.data_preprocessor(dict(
                inputs=[torch.from_numpy(np.ascontiguousarray(view.transpose(2, 0, 1)))],
                data_samples=[data_sample]), False)
            with torch.no_grad():
                out = model(**data, mode='tensor')
            def norm(x):
                x = F.relu(x)
                return x / x.amax((-2, -1), keepdim=True).clamp(min=1e-5)
            maps = torch.maximum(norm(out['cams']), norm(out['cams_b']))
            maps = F.interpolate(maps, size=view.shape[:2], mode='bilinear',
                                 align_corners=False)[0]
            fused.append(maps.flip(-1) if flip else maps)
        expected = torch.maximum(*fused)[torch.from_numpy(classes)]
        expected = expected / expected.amax((-2, -1), keepdim=True).clamp(min=1e-5)
        np.testing.assert_allclose(record['maps'].astype(np.float32), expected.numpy(),
                                   atol=2e-3)
