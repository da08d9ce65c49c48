"""``aggregation='feature_grid'``: IRN/RPNet's make_cam arithmetic, checked against a transcription
of jiwoon-ahn/irn step/make_cam.py L32-52 and net/resnet50_cam.py L65-68 on a stub model with
known feature-grid maps; ``'image_grid'`` (the default) still gives the maps it gave."""
import mmcv
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wsss_toolbox.maps import load_maps, map_path
from wsss_toolbox.maps.inference import (
    AGGREGATIONS,
    _size_batches,
    feature_grid_maps_of_images,
    infer_maps,
)
from wsss_toolbox.models.utils import resize_maps_to_image

NET_STRIDE = 8
PAD = 32  # the stub pads its input to a multiple of 32: one or two padding cells per side


def stub_feature_maps(image: np.ndarray) -> np.ndarray:
    """(3, ceil(H / 8), ceil(W / 8)) non-negative maps of an unpadded BGR uint8 (H, W, 3)
    image: class 0 = 8x8 block means of red, class 1 = block maxima of green squared, class
    2 = 0."""
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float()[None] / 255
    red = F.avg_pool2d(x[:, 2:3], NET_STRIDE, ceil_mode=True)
    green = F.max_pool2d(x[:, 1:2]**2, NET_STRIDE, ceil_mode=True)
    return torch.cat([red, green, torch.zeros_like(red)], 1)[0].numpy()


class FeatureGridModel(torch.nn.Module):
    """A network of output stride 8 whose input is padded to a multiple of 32: its maps cover
    the padded input, the padding cells hold a large value (5.0) that must never reach a
    map. ``pred_feature_maps`` on request, else ``pred_maps`` resized as WSSSClassifier."""

    def __init__(self):
        super().__init__()
        self.batches = []

    def test_step(self, data):
        self.batches.append([sample.metainfo['flip_pair_id'] for sample in data['data_samples']])
        results = []
        for image, sample in zip(data['inputs'], data['data_samples']):
            height, width = image.shape[-2:]
            maps = torch.from_numpy(stub_feature_maps(image.numpy().transpose(1, 2, 0)))
            pad_shape = (-(-height // PAD) * PAD, -(-width // PAD) * PAD)
            cells = (pad_shape[0] // NET_STRIDE, pad_shape[1] // NET_STRIDE)
            padded = torch.full((3, ) + cells, 5.0)
            padded[:, :maps.shape[1], :maps.shape[2]] = maps
            sample.set_metainfo(dict(batch_input_shape=pad_shape))
            if sample.metainfo.get('pred_on_feature_grid', False):
                sample.pred_feature_maps = padded
            else:
                sample.pred_maps = resize_maps_to_image(padded, pad_shape, (height, width))
            results.append(sample)
        return results


def authors_make_cam(image, label, scales, stride=4):
    """jiwoon-ahn/irn step/make_cam.py L32-52 with CAM.forward's flip sum (net/resnet50_cam.py
    L65-68), written out for the stub network (its maps already are ReLU(F): L66). The views
    are rescaled as our map inference rescales them (the data loader is not the subject)."""
    size = image.shape[:2]
    strided_size = ((size[0] - 1) // stride + 1, (size[1] - 1) // stride + 1)  # imutils L173
    # get_strided_up_size(size, 16) (imutils L177-179) with the stub's output stride for 16
    strided_up_size = (((size[0] - 1) // NET_STRIDE + 1) * NET_STRIDE,
                       ((size[1] - 1) // NET_STRIDE + 1) * NET_STRIDE)
    outputs = []
    for scale in scales:
        img = image if scale == 1 else mmcv.imrescale(image, scale, interpolation='bilinear')
        pair = np.stack([img, img[:, ::-1]])  # the data loader's [image, flipped image]
        x = np.stack([stub_feature_maps(view) for view in pair])
        outputs.append(torch.from_numpy(x[0] + x[1][..., ::-1]))  # x[0] + x[1].flip(-1)
    strided_cam = torch.sum(torch.stack([
        F.interpolate(torch.unsqueeze(o, 0), strided_size, mode='bilinear',
                      align_corners=False)[0] for o in outputs]), 0)
    highres_cam = [F.interpolate(torch.unsqueeze(o, 1), strided_up_size, mode='bilinear',
                                 align_corners=False) for o in outputs]
    highres_cam = torch.sum(torch.stack(highres_cam, 0), 0)[:, 0, :size[0], :size[1]]
    valid_cat = torch.nonzero(torch.as_tensor(label))[:, 0]
    strided_cam = strided_cam[valid_cat]
    strided_cam /= F.adaptive_max_pool2d(strided_cam, (1, 1)) + 1e-5
    highres_cam = highres_cam[valid_cat]
    highres_cam /= F.adaptive_max_pool2d(highres_cam, (1, 1)) + 1e-5
    return highres_cam.numpy(), strided_cam.numpy()


def image_grid_rule(image, label, scales, stride=4):
    """The toolbox's image-grid rule written out: every view resized to the image (its
    padding cropped), mirrors flipped back there, summed, clamped, each class divided by
    max(peak, 1e-5); the strided maps resized from that sum."""
    height, width = image.shape[:2]
    total = 0
    for scale in scales:
        img = image if scale == 1 else mmcv.imrescale(image, scale, interpolation='bilinear')
        for flipped in (False, True):
            view = img[:, ::-1] if flipped else img
            maps = torch.from_numpy(stub_feature_maps(view))
            h, w = view.shape[:2]
            pad_shape = (-(-h // PAD) * PAD, -(-w // PAD) * PAD)
            padded = torch.full((3, pad_shape[0] // NET_STRIDE, pad_shape[1] // NET_STRIDE), 5.0)
            padded[:, :maps.shape[1], :maps.shape[2]] = maps
            full = F.interpolate(padded[None], pad_shape, mode='bilinear',
                                 align_corners=False)[0, :, :h, :w]
            full = full.flip(-1) if flipped else full
            total = total + F.interpolate(full[None], (height, width), mode='bilinear',
                                          align_corners=False)[0]
    keep = np.flatnonzero(label)
    total = total.clamp(min=0)[keep]
    strided = F.interpolate(total[None], (-(-height // stride), -(-width // stride)),
                            mode='bilinear', align_corners=False)[0]

    def normalise(maps):
        peak = maps.amax(dim=(1, 2), keepdim=True)
        return (maps / torch.where(peak > 0, peak.clamp(min=1e-5), torch.ones_like(peak)))

    return normalise(total).numpy(), normalise(strided).numpy()


def random_image(seed, height=21, width=23):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    image[5:9, 3:8, 2] = 255  # a narrow red peak near the left border
    return image


@pytest.fixture
def samples(tmp_path):
    labels = [np.array([1, 1, 0], np.float32), np.array([1, 0, 1], np.float32)]
    result = []
    for index, label in enumerate(labels):
        path = str(tmp_path / f'img{index}.png')
        mmcv.imwrite(random_image(index, 21 + index, 23), path)
        result.append(dict(img_id=f'img{index}', img_path=path, gt_label=label))
    return result


SCALES = (1.0, 0.5)


def test_feature_grid_follows_irn_make_cam(samples, tmp_path):
    assert AGGREGATIONS == ('image_grid', 'feature_grid')
    out_dir = str(tmp_path / 'maps')
    infer_maps(FeatureGridModel(), samples, out_dir, scales=SCALES, flip=True, stride=4,
               aggregation='feature_grid', progress=False)
    for sample in samples:
        image = mmcv.imread(sample['img_path'])
        expected, expected_strided = authors_make_cam(image, sample['gt_label'], SCALES)
        # in float32, before the float16 map file
        (maps, strided), = feature_grid_maps_of_images(
            FeatureGridModel(), [image], SCALES, True, [sample['gt_label']],
            classes=[np.flatnonzero(sample['gt_label'])], stride=4)
        np.testing.assert_allclose(maps, expected, atol=1e-6)
        np.testing.assert_allclose(strided, expected_strided, atol=1e-6)
        record = load_maps(map_path(out_dir, sample['img_id']))
        assert record['classes'].tolist() == np.flatnonzero(sample['gt_label']).tolist()
        assert record['maps'].shape == (2, ) + image.shape[:2]
        assert record['strided_maps'].shape == (2, -(-image.shape[0] // 4), 6)
        np.testing.assert_allclose(record['maps'], expected, atol=1e-3)
        np.testing.assert_allclose(record['strided_maps'], expected_strided, atol=1e-3)
        # the authors' divisor: the peak is peak / (peak + 1e-5), not exactly 1
        assert 0.999 < record['maps'][0].max() <= 1.0


def test_image_grid_still_gives_todays_maps_and_differs(samples, tmp_path):
    default_dir, explicit_dir, new_dir = (str(tmp_path / name) for name in ('d', 'e', 'n'))
    infer_maps(FeatureGridModel(), samples, default_dir, scales=SCALES, stride=4,
               progress=False)
    infer_maps(FeatureGridModel(), samples, explicit_dir, scales=SCALES, stride=4,
               aggregation='image_grid', progress=False)
    infer_maps(FeatureGridModel(), samples, new_dir, scales=SCALES, stride=4,
               aggregation='feature_grid', progress=False)
    largest = 0.0
    for sample in samples:
        default = load_maps(map_path(default_dir, sample['img_id']))
        explicit = load_maps(map_path(explicit_dir, sample['img_id']))
        for key in ('maps', 'strided_maps'):
            np.testing.assert_array_equal(explicit[key], default[key])
        expected, expected_strided = image_grid_rule(mmcv.imread(sample['img_path']),
                                                     sample['gt_label'], SCALES)
        np.testing.assert_allclose(default['maps'], expected, atol=1e-3)
        np.testing.assert_allclose(default['strided_maps'], expected_strided, atol=1e-3)
        new = load_maps(map_path(new_dir, sample['img_id']))
        largest = max(largest, float(np.abs(new['maps'].astype(np.float32)
                                            - default['maps']).max()))
    assert largest > 0.05  # the two rules are told apart on this stub


def test_feature_grid_without_flip_and_without_stride(samples, tmp_path):
    image = mmcv.imread(samples[0]['img_path'])
    (maps, strided), = feature_grid_maps_of_images(FeatureGridModel(), [image], (1.0, ), False)
    assert strided is None
    x = torch.from_numpy(stub_feature_maps(image))
    expected = F.interpolate(x[None], (24, 24), mode='bilinear', align_corners=False)[0, :, :21,
                                                                                      :23]
    expected = expected / (expected.amax(dim=(1, 2), keepdim=True) + 1e-5)
    np.testing.assert_allclose(maps, expected.numpy(), atol=1e-6)


class ImageSizeOnlyModel(torch.nn.Module):
    def test_step(self, data):
        for image, sample in zip(data['inputs'], data['data_samples']):
            sample.pred_maps = torch.zeros((3, ) + tuple(image.shape[-2:]))
        return data['data_samples']


@pytest.mark.parametrize('kwargs, message', [
    (dict(aggregation='features'), "aggregation must be one of \\('image_grid', 'feature_grid'\\)"),
    (dict(aggregation='feature_grid', fusion='max'), "fusion='mean'"),
    (dict(aggregation='feature_grid', num_partners=1), 'single images'),
    (dict(aggregation='feature_grid', partners={'img0': ['img1']}), 'single images'),
])
def test_bad_aggregation_options(samples, tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        infer_maps(FeatureGridModel(), samples, str(tmp_path / 'maps'), **kwargs)


def test_a_model_without_feature_grid_maps_is_named(samples, tmp_path):
    with pytest.raises(ValueError, match='pred_feature_maps'):
        infer_maps(ImageSizeOnlyModel(), samples, str(tmp_path / 'maps'),
                   aggregation='feature_grid', progress=False)


def test_wsss_classifier_gives_feature_grid_maps_on_request():
    from mmengine.registry import init_default_scope

    from wsss_toolbox.registry import MODELS
    from wsss_toolbox.structures import WSSSDataSample
    from wsss_toolbox.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    init_default_scope('wsss_toolbox')
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='WSSSClassifier', backbone=dict(type='TinyConvNet', base_channels=4),
        head=dict(type='CAMHead', in_channels=16, num_classes=3, num_convs=0)))
    model.eval()
    image = torch.randint(0, 255, (3, 20, 28), dtype=torch.uint8)
    data = dict(inputs=[image, image], data_samples=[
        WSSSDataSample(metainfo=dict(img_shape=(20, 28), pred_on_feature_grid=True)),
        WSSSDataSample(metainfo=dict(img_shape=(20, 28)))])
    with torch.no_grad():
        grid, full = model.test_step(data)
        outputs = model(model.data_preprocessor(data)['inputs'], mode='tensor')
    assert 'pred_maps' not in grid and 'pred_feature_maps' not in full
    assert grid.pred_feature_maps.shape == (3, 3, 4)  # (24, 32) padded input, stride 8
    torch.testing.assert_close(grid.pred_feature_maps, outputs['cams'][0].relu())
    torch.testing.assert_close(full.pred_maps, resize_maps_to_image(
        outputs['cams'][1].relu(), (24, 32), (20, 28)))


class PairNeedingModel(FeatureGridModel):
    head = type('Head', (), {'needs_flip_pairs': True})()


@pytest.mark.parametrize('aggregation', AGGREGATIONS)
def test_a_view_and_its_mirror_share_a_forward_when_the_head_asks(samples, tmp_path,
                                                                  aggregation):
    # 21 x 23 views: 3 per batch of 3 * 21 * 23 pixels, rounded down to one pair
    model = PairNeedingModel()
    infer_maps(model, samples[:1], str(tmp_path / 'maps'), scales=(1.0, ), flip=True,
               batch_pixels=3 * 21 * 23, aggregation=aggregation, progress=False)
    assert model.batches == [[0, 0]]
    plain = FeatureGridModel()
    infer_maps(plain, samples, str(tmp_path / 'plain'), scales=(1.0, 1.0), flip=True,
               batch_pixels=3 * 21 * 23, aggregation=aggregation, progress=False)
    assert [0, 0, 1] in plain.batches  # without the request a pair may be split
    paired = PairNeedingModel()
    infer_maps(paired, samples, str(tmp_path / 'paired'), scales=(1.0, 1.0), flip=True,
               batch_pixels=3 * 21 * 23, aggregation=aggregation, progress=False)
    for batch in paired.batches:
        assert all(batch.count(pair_id) == 2 for pair_id in batch)
    assert _size_batches([(2, 2)] * 6, 12, unit=2) == [[0, 1], [2, 3], [4, 5]]
    assert _size_batches([(2, 2)] * 4, 1, unit=2) == [[0, 1], [2, 3]]


def test_the_option_reaches_the_pipeline_step_and_the_tool(monkeypatch):
    import os.path as osp
    import sys

    from conftest import REPO_ROOT
    from mmengine.config import Config

    from wsss_toolbox.pipeline import InferMaps
    step = InferMaps('maps', None, aggregation='feature_grid')
    classifier = type('Classifier', (), {'stage_config': lambda self: Config(dict(
        map_inference=dict(scales=(1.0, 0.5), fusion='mean')))})()
    monkeypatch.setattr(step, 'classifier', lambda: classifier)
    assert step.inference_options() == dict(scales=(1.0, 0.5), fusion='mean',
                                             aggregation='feature_grid')
    # left None: the classifier config's entry (and infer_maps' default) decide
    default = InferMaps('maps', None)
    monkeypatch.setattr(default, 'classifier', lambda: classifier)
    assert 'aggregation' not in default.inference_options()
    with pytest.raises(ValueError, match="step maps: aggregation must be one of"):
        InferMaps('maps', None, aggregation='image')
    sys.path.insert(0, osp.join(REPO_ROOT, 'tools'))
    try:
        import infer_maps as tool
    finally:
        sys.path.pop(0)
    monkeypatch.setattr(sys, 'argv', ['infer_maps.py', 'c.py', 'w.pth', '--out-dir', 'o',
                                      '--aggregation', 'feature_grid'])
    assert tool.parse_args().aggregation == 'feature_grid'
