"""RPNet's CAMs at inference with the non-local BatchNorm on the batch statistics of [image,
mirror] (``non_local_inference_bn='flip_pair_batch_stats'``), as liuweide01/RPNet-Weakly-
Supervised-Segmentation computes them: its ``Net.train`` override (net/resnet50_cam.py
L252-256) leaves every module in training mode, and step/make_cam.py runs each scale's image and
its mirror as one batch through ``self_atten_x`` (net/resnet50_cam.py L266-277)."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.registry import init_default_scope

from wsss_toolbox.methods.rpnet import RPNetHead
from wsss_toolbox.methods.rpnet.heads import NON_LOCAL_INFERENCE_BNS
from wsss_toolbox.pipeline import load_pipeline_config
from wsss_toolbox.structures import WSSSDataSample


def conv1x1(x, weight, bias=None):
    out = np.einsum('oc,nchw->nohw', weight[:, :, 0, 0], x)
    return out if bias is None else out + bias[None, :, None, None]


def randomise(block):
    with torch.no_grad():
        for parameter in block.parameters():
            parameter.normal_()
        block.out[1].running_mean.normal_()
        block.out[1].running_var.uniform_(0.5, 2.0)


def head_by_hand(head, feats, pair_ids=None):
    """CAMs of the original branch, written out: f = P x; non-local block (theta/phi/g 1x1
    convs, theta^T phi / HW, W conv, BatchNorm) with the statistics of each pair (biased
    variance over the pair's pixels, as BatchNorm in training mode) or the running ones;
    z = f + BN(W y); CAM = classifier(z)."""
    p = {name: value.detach().numpy().astype(np.float64)
         for name, value in head.state_dict().items()}
    block = 'non_local.original.0.'
    f = conv1x1(feats.numpy().astype(np.float64), p['projection.weight'])
    n, _, h, w = f.shape
    theta = conv1x1(f, p[block + 'theta.weight'], p[block + 'theta.bias']).reshape(n, -1, h * w)
    phi = conv1x1(f, p[block + 'phi.weight'], p[block + 'phi.bias']).reshape(n, -1, h * w)
    g = conv1x1(f, p[block + 'g.weight'], p[block + 'g.bias']).reshape(n, -1, h * w)
    y = np.stack([(theta[i].T @ phi[i] / (h * w)) @ g[i].T for i in range(n)])  # (n, hw, c)
    y = y.transpose(0, 2, 1).reshape(n, -1, h, w)
    wy = conv1x1(y, p[block + 'out.0.weight'], p[block + 'out.0.bias'])
    gamma, beta = p[block + 'out.1.weight'], p[block + 'out.1.bias']
    normalised = np.empty_like(wy)
    for i in range(n):
        if pair_ids is None:
            mean, var = p[block + 'out.1.running_mean'], p[block + 'out.1.running_var']
        else:
            members = [j for j in range(n) if pair_ids[j] == pair_ids[i]]
            mean = wy[members].mean(axis=(0, 2, 3))
            var = wy[members].var(axis=(0, 2, 3))  # biased (ddof 0)
        normalised[i] = (wy[i] - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5)
    z = f + gamma[None, :, None, None] * normalised + beta[None, :, None, None]
    return conv1x1(z, p['classifiers.0.weight'])


def tiny_head(mode='flip_pair_batch_stats'):
    torch.manual_seed(0)
    head = RPNetHead(in_channels=3, num_classes=2, channels=4, prototype_indices=(-1, ),
                     non_local=True, non_local_inference_bn=mode)
    randomise(head.non_local['original'][0])
    return head.eval()


def pair_samples(ids):
    return [WSSSDataSample(metainfo=dict(flip_pair_id=pair_id)) for pair_id in ids]


def test_flip_pair_batch_statistics_by_hand():
    head = tiny_head()
    assert head.needs_flip_pairs
    feats = torch.randn(4, 3, 3, 5)
    ids = [7, 7, 8, 8]  # two (image, mirror) pairs in one forward
    with torch.no_grad():
        cams = head(feats, pair_samples(ids))['cams']
    np.testing.assert_allclose(cams.numpy(), head_by_hand(head, feats, ids), atol=1e-4)
    # the authors' forward: one pair per batch through a BatchNorm in training mode
    authors = copy.deepcopy(head)
    authors.non_local_inference_bn = 'running_stats'
    authors.non_local['original'][0].out[1].train()
    with torch.no_grad():
        for pair in (slice(0, 2), slice(2, 4)):
            torch.testing.assert_close(authors(feats[pair])['cams'], cams[pair],
                                       atol=1e-5, rtol=1e-5)
    # running statistics (the default) differ, and follow the running formula
    running = copy.deepcopy(head)
    running.non_local_inference_bn = 'running_stats'
    assert not running.needs_flip_pairs
    with torch.no_grad():
        plain = running(feats, pair_samples(ids))['cams']
    np.testing.assert_allclose(plain.numpy(), head_by_hand(head, feats), atol=1e-4)
    assert (plain - cams).abs().max() > 0.1
    # the running statistics are left alone
    torch.testing.assert_close(head.non_local['original'][0].out[1].running_mean,
                               running.non_local['original'][0].out[1].running_mean)


def test_without_pair_ids_the_running_statistics_are_used_with_a_warning():
    head = tiny_head()
    feats = torch.randn(2, 3, 3, 5)
    with pytest.warns(UserWarning, match='flip_pair_id'), torch.no_grad():
        cams = head(feats)['cams']
    np.testing.assert_allclose(cams.numpy(), head_by_hand(head, feats), atol=1e-4)


def test_option_values():
    assert NON_LOCAL_INFERENCE_BNS == ('running_stats', 'flip_pair_batch_stats')
    with pytest.raises(ValueError, match='non_local_inference_bn must be one of'):
        RPNetHead(in_channels=3, num_classes=2, non_local_inference_bn='batch')
    assert not RPNetHead(in_channels=3, num_classes=2, channels=4,
                         non_local_inference_bn='flip_pair_batch_stats').needs_flip_pairs


def test_map_inference_gives_each_pair_its_own_statistics(tmp_path):
    """Two images of one size, their four views in one forward: the maps equal those of one
    forward per [image, mirror] with the BatchNorm in training mode (the authors' make_cam)."""
    import mmcv

    from wsss_toolbox.maps import load_maps, map_path
    from wsss_toolbox.maps.feature_grid import feature_grid_sums, normalize_by_max
    from wsss_toolbox.maps.inference import infer_maps
    from wsss_toolbox.registry import MODELS
    from wsss_toolbox.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    init_default_scope('wsss_toolbox')
    import wsss_toolbox.methods.rpnet  # noqa: F401
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='RPNetClassifier', backbone=dict(type='TinyConvNet', base_channels=4,
                                              out_indices=(1, 3)),
        head=dict(type='RPNetHead', in_channels=16, num_classes=2, channels=8,
                  non_local=True, non_local_inference_bn='flip_pair_batch_stats')))
    randomise(model.head.non_local['original'][0])
    model.eval()
    rng = np.random.default_rng(0)
    samples = []
    for index in range(2):
        path = str(tmp_path / f'img{index}.png')
        mmcv.imwrite(rng.integers(0, 256, (24, 40, 3), dtype=np.uint8), path)
        samples.append(dict(img_id=f'img{index}', img_path=path,
                            gt_label=np.array([1, 1], np.float32)))
    calls = []
    model.head.register_forward_hook(lambda module, args, out: calls.append(len(args[0][0])))
    infer_maps(model, samples, str(tmp_path / 'maps'), scales=(1.0, ), flip=True,
               aggregation='feature_grid', batch_pixels=10**6, progress=False)
    assert calls == [4]  # both pairs in one forward
    authors = copy.deepcopy(model)
    authors.head.non_local_inference_bn = 'running_stats'
    authors.head.non_local['original'][0].out[1].train()
    for sample in samples:
        image = mmcv.imread(sample['img_path'])
        views = [torch.from_numpy(np.ascontiguousarray(view.transpose(2, 0, 1)))
                 for view in (image, image[:, ::-1])]
        data = dict(inputs=views, data_samples=[WSSSDataSample(metainfo=dict(
            img_shape=(24, 40), flip=flipped, pred_on_feature_grid=True))
            for flipped in (False, True)])
        with torch.no_grad():
            results = authors.test_step(data)
        expected, _ = feature_grid_sums(results, 24, 40, True)
        record = load_maps(map_path(str(tmp_path / 'maps'), sample['img_id']))
        np.testing.assert_allclose(record['maps'], normalize_by_max(expected), atol=2e-3)


@pytest.mark.parametrize('name', ['voc12aug', 'coco2014'])
def test_authors_inference_in_the_voc_and_coco_configs(name):
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'rpnet',
                                   f'rpnet_x50_1xb8-5e_{name}-512x512.py'))
    assert cfg.model.head.non_local is True
    assert cfg.model.head.non_local_inference_bn == 'flip_pair_batch_stats'
    assert cfg.map_inference == dict(scales=(1.0, 0.5, 1.5, 2.0), flip=True, fusion='mean',
                                     aggregation='feature_grid')


def test_synthetic_pipelines_aggregate_on_the_feature_grid_with_stage1_unchanged():
    pipelines = osp.join(REPO_ROOT, 'configs', 'pipelines')
    for name in ('rpnet_synthetic.py', 'rpnet-irn_synthetic.py', 'cam-irn_synthetic.py',
                 'cam-irn_voc12.py'):
        assert load_pipeline_config(osp.join(pipelines, name)).maps['aggregation'] == \
            'feature_grid', name
    assert 'aggregation' not in load_pipeline_config(osp.join(pipelines, 'cam_synthetic.py')).maps
    tiny = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'rpnet',
                                    'rpnet_tiny_1xb8-4e_synthetic-128x128.py'))
    # the stage-1 config the finished synthetic runs were trained with
    assert tiny.model.head.non_local is False and 'non_local_inference_bn' not in tiny.model.head
    assert tiny.map_inference == dict(scales=(1.0, 0.5, 1.5, 2.0), flip=True, fusion='mean')
