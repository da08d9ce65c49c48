"""Map inference with test-time augmentation, on a stub model with known maps."""
import os

import numpy as np
import pytest
import torch

from wsss_toolbox.maps import load_maps, map_path
from wsss_toolbox.maps.inference import FUSIONS, check_fusion, infer_image_maps, infer_maps


class RedChannelModel(torch.nn.Module):
    """pred_maps: class 0 = red channel / 255, class 1 = 0.5 everywhere, class 2 = 0."""

    def test_step(self, data):
        results = []
        for image, sample in zip(data['inputs'], data['data_samples']):
            red = image[2].float() / 255  # BGR input
            sample.pred_maps = torch.stack([red, torch.full_like(red, 0.5), torch.zeros_like(red)])
            assert tuple(image.shape[-2:]) == tuple(sample.metainfo['img_shape'])
            results.append(sample)
        return results


def ramp_image(height=8, width=12):
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 2] = np.linspace(0, 255, width, dtype=np.float32)[None].round().astype(np.uint8)
    return image


def test_flip_is_undone_before_fusion():
    image = ramp_image()
    plain = infer_image_maps(RedChannelModel(), image, scales=(1.0, ), flip=False)
    flipped_too = infer_image_maps(RedChannelModel(), image, scales=(1.0, ), flip=True)
    # the mirrored view, mirrored back, gives the same ramp: the mean keeps it
    torch.testing.assert_close(flipped_too, plain)
    torch.testing.assert_close(plain[0], torch.from_numpy(image[..., 2] / 255).float())
    maxed = infer_image_maps(RedChannelModel(), image, scales=(1.0, ), flip=True, fusion='max')
    torch.testing.assert_close(maxed, plain)


def test_scales_are_mapped_back_to_the_original_size():
    image = ramp_image(16, 24)
    fused = infer_image_maps(RedChannelModel(), image, scales=(1.0, 0.5, 2.0), flip=False)
    assert fused.shape == (3, 16, 24)
    torch.testing.assert_close(fused[1], torch.full((16, 24), 0.5))  # mean of 3 views
    # every scale sees the same ramp: the fused map stays monotonic in x
    assert torch.all(fused[0, :, 1:] >= fused[0, :, :-1] - 1e-4)


def test_unknown_fusion_names_the_allowed_ones(tmp_path):
    assert FUSIONS == ('mean', 'max')
    with pytest.raises(ValueError, match="fusion must be one of \\('mean', 'max'\\)"):
        infer_image_maps(RedChannelModel(), ramp_image(), fusion='median')
    with pytest.raises(ValueError, match="'sum' is now 'mean'"):
        check_fusion('sum')
    with pytest.raises(ValueError, match='fusion'):
        infer_maps(RedChannelModel(), [], str(tmp_path), fusion='average')


def test_mean_and_sum_fusion_give_the_same_normalized_maps():
    """mean = sum / N, and the per-class max normalisation removes the factor."""
    from wsss_toolbox.maps.normalize import normalize_maps
    image = ramp_image(16, 24)
    mean = infer_image_maps(RedChannelModel(), image, scales=(1.0, 0.5, 2.0), flip=True)
    torch.testing.assert_close(normalize_maps(mean * 6), normalize_maps(mean))


def test_infer_maps_writes_image_classes_and_resumes(tmp_path):
    import mmcv
    samples = []
    for index in range(3):
        path = str(tmp_path / f'img{index}.png')
        mmcv.imwrite(ramp_image(), path)
        samples.append(dict(img_id=f'img{index}', img_path=path,
                            gt_label=np.array([1, 0, 1], np.float32)))
    out_dir = str(tmp_path / 'maps')
    counts = infer_maps(RedChannelModel(), samples, out_dir, scales=(1.0, ), flip=True)
    size = sum(os.path.getsize(map_path(out_dir, f'img{index}')) for index in range(3)) / 3
    assert counts == dict(written=3, skipped=0, empty=0, bytes_per_image=size, warnings=[])
    record = load_maps(map_path(out_dir, 'img1'))
    assert record['img_id'] == 'img1'
    assert record['classes'].tolist() == [0, 2]
    assert record['maps'].shape == (2, 8, 12)
    np.testing.assert_allclose(record['maps'][0].max(), 1.0, atol=1e-3)
    assert np.all(record['maps'][1] == 0)
    assert infer_maps(RedChannelModel(), samples, out_dir) == dict(
        written=0, skipped=3, empty=0, bytes_per_image=size, warnings=[])  # skipped files too


def test_infer_maps_names_a_missing_image(tmp_path):
    samples = [dict(img_id='gone', img_path=str(tmp_path / 'gone.jpg'),
                    gt_label=np.array([1.], np.float32))]
    with pytest.raises(FileNotFoundError, match='gone.jpg'):
        infer_maps(RedChannelModel(), samples, str(tmp_path / 'maps'))


def test_infer_maps_checks_the_class_count(tmp_path):
    import mmcv
    path = str(tmp_path / 'a.png')
    mmcv.imwrite(ramp_image(), path)
    samples = [dict(img_id='a', img_path=path, gt_label=np.array([1., 0.], np.float32))]
    with pytest.raises(ValueError, match='num_classes'):
        infer_maps(RedChannelModel(), samples, str(tmp_path / 'maps'))


def test_ranks_share_the_images(tmp_path, monkeypatch):
    """Under torchrun each rank writes the maps of samples[rank::world_size]."""
    import mmcv

    import wsss_toolbox.maps.inference as inference
    samples = []
    for index in range(5):
        path = str(tmp_path / f'img{index}.png')
        mmcv.imwrite(ramp_image(), path)
        samples.append(dict(img_id=f'img{index}', img_path=path,
                            gt_label=np.array([1, 0, 0], np.float32)))
    out_dir = str(tmp_path / 'maps')
    monkeypatch.setattr(inference, 'get_dist_info', lambda: (1, 2))
    counts = infer_maps(RedChannelModel(), samples, out_dir)
    assert counts.pop('bytes_per_image') > 0
    assert counts == dict(written=2, skipped=0, empty=0, warnings=[])
    assert sorted(__import__('os').listdir(out_dir)) == ['img1.npz', 'img3.npz']


class LabelRecordingModel(RedChannelModel):
    """Records the gt_label of every view it is given (heads such as SeeNet's need it)."""

    def __init__(self):
        super().__init__()
        self.seen = []
        self.seen_green = []

    def test_step(self, data):
        self.seen += [sample.gt_label.tolist() if 'gt_label' in sample else None
                      for sample in data['data_samples']]
        # which image a view comes from: its green channel (set per image by the test)
        self.seen_green += [int(image[1].max()) for image in data['inputs']]
        return super().test_step(data)


def test_every_view_carries_the_image_labels(tmp_path):
    import mmcv
    samples = []
    for index, label in enumerate(([1, 0, 1], [0, 1, 0])):
        path = str(tmp_path / f'img{index}.png')
        image = ramp_image()
        image[..., 1] = 100 * (index + 1)  # tells the views of the two images apart
        mmcv.imwrite(image, path)
        samples.append(dict(img_id=f'img{index}', img_path=path,
                            gt_label=np.array(label, np.float32)))
    model = LabelRecordingModel()
    # image by image (batch_images=1), so that the views come in the images' order
    infer_maps(model, samples, str(tmp_path / 'maps'), scales=(1.0, 0.5), flip=True,
               batch_images=1)
    assert model.seen == [[1., 0., 1.]] * 4 + [[0., 1., 0.]] * 4
    model = LabelRecordingModel()  # batched across images (default): views of one size
    infer_maps(model, samples, str(tmp_path / 'batched'), scales=(1.0, 0.5), flip=True)
    labels_of = {100: [1., 0., 1.], 200: [0., 1., 0.]}
    assert sorted(model.seen_green) == [100] * 4 + [200] * 4
    assert model.seen == [labels_of[green] for green in model.seen_green]
    model = LabelRecordingModel()  # with partners: each member carries its own labels
    infer_maps(model, samples, str(tmp_path / 'grouped'), scales=(1.0, ), flip=False,
               partners={'img0': ['img1'], 'img1': ['img0']})
    assert model.seen == [[1., 0., 1.], [0., 1., 0.], [0., 1., 0.], [1., 0., 1.]]
    model = LabelRecordingModel()  # a single image outside a dataset: no labels
    infer_image_maps(model, ramp_image(), flip=False)
    assert model.seen == [None]


class AutocastRecordingModel(RedChannelModel):
    """RedChannelModel that records whether its forward ran under CPU autocast."""

    def __init__(self):
        super().__init__()
        self.autocast = []

    def test_step(self, data):
        self.autocast.append((torch.is_autocast_enabled('cpu'),
                              torch.get_autocast_dtype('cpu')))
        return super().test_step(data)


def test_amp_runs_the_forward_under_bfloat16_autocast_on_the_cpu(tmp_path):
    import mmcv
    path = str(tmp_path / 'a.png')
    mmcv.imwrite(ramp_image(), path)
    samples = [dict(img_id='a', img_path=path, gt_label=np.array([1., 0., 1.], np.float32))]
    model = AutocastRecordingModel()
    infer_maps(model, samples, str(tmp_path / 'fp32'), scales=(1.0, 0.5))
    assert model.autocast and not any(enabled for enabled, _ in model.autocast)
    model.autocast.clear()
    infer_maps(model, samples, str(tmp_path / 'amp'), scales=(1.0, 0.5), amp=True)
    assert model.autocast and all(enabled and dtype == torch.bfloat16
                                  for enabled, dtype in model.autocast)
    assert not torch.is_autocast_enabled('cpu')
    # the stub's maps do not depend on the precision: the same files
    fp32, amp = (load_maps(map_path(str(tmp_path / d), 'a')) for d in ('fp32', 'amp'))
    np.testing.assert_array_equal(fp32['maps'], amp['maps'])


def test_fusing_only_the_image_classes_equals_selecting_them_afterwards():
    from wsss_toolbox.maps.inference import fused_maps_of_images
    images = [ramp_image(16, 24), ramp_image(8, 12)[:, ::-1].copy()]
    every = fused_maps_of_images(RedChannelModel(), images, (1.0, 0.5, 1.5), True, 'mean')
    kept = [np.array([0, 2]), np.array([1])]
    some = fused_maps_of_images(RedChannelModel(), images, (1.0, 0.5, 1.5), True, 'mean',
                                classes=kept)
    for (all_maps, _), (maps, _), classes in zip(every, some, kept):
        assert maps.shape[0] == len(classes)
        torch.testing.assert_close(maps, all_maps[torch.from_numpy(classes)], rtol=0, atol=0)


def test_channels_last_converts_the_model_and_keeps_the_maps(tmp_path):
    import mmcv

    from wsss_toolbox.models import WSSSClassifier
    torch.manual_seed(0)
    model = WSSSClassifier(backbone=dict(type='TinyConvNet', base_channels=4),
                           head=dict(type='CAMHead', in_channels=16, num_classes=3))
    path = str(tmp_path / 'a.png')
    mmcv.imwrite(np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8), path)
    samples = [dict(img_id='a', img_path=path, gt_label=np.array([1., 0., 1.], np.float32))]
    infer_maps(model, samples, str(tmp_path / 'plain'), scales=(1.0, 0.5))
    conv = model.backbone.stages[1][0].conv
    assert not conv.weight.is_contiguous(memory_format=torch.channels_last)
    infer_maps(model, samples, str(tmp_path / 'cl'), scales=(1.0, 0.5), channels_last=True)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    plain, last = (load_maps(map_path(str(tmp_path / d), 'a')) for d in ('plain', 'cl'))
    np.testing.assert_allclose(plain['maps'], last['maps'], atol=2e-3)


def test_progress_bar_can_be_switched_off(tmp_path, monkeypatch):
    import mmcv
    from mmengine.utils import ProgressBar

    import wsss_toolbox.maps.inference as inference
    bars = []
    monkeypatch.setattr(inference, 'ProgressBar',
                        lambda total: bars.append(total) or ProgressBar(total))
    path = str(tmp_path / 'a.png')
    mmcv.imwrite(ramp_image(), path)
    samples = [dict(img_id='a', img_path=path, gt_label=np.array([1., 0., 1.], np.float32))]
    infer_maps(RedChannelModel(), samples, str(tmp_path / 'quiet'), progress=False)
    assert bars == []
    infer_maps(RedChannelModel(), samples, str(tmp_path / 'shown'))
    assert bars == [1]


def test_an_image_without_tags_gets_an_empty_map_file(tmp_path):
    import mmcv
    path = str(tmp_path / 'a.png')
    mmcv.imwrite(ramp_image(), path)
    samples = [dict(img_id='a', img_path=path, gt_label=np.zeros(3, np.float32))]
    infer_maps(RedChannelModel(), samples, str(tmp_path / 'maps'), scales=(1.0, 0.5), stride=4)
    record = load_maps(map_path(str(tmp_path / 'maps'), 'a'))
    assert record['classes'].tolist() == [] and record['maps'].shape == (0, 8, 12)
    assert record['strided_maps'].shape == (0, 2, 3)


def test_names_of_the_split_modules_stay_importable_from_inference():
    """tta / partners / forward were split off maps/inference.py; callers import from here."""
    import inspect

    import wsss_toolbox.maps.inference as inference
    from wsss_toolbox.maps import forward, partners, tta
    for module in (tta, partners, forward):
        for name in ('AGGREGATIONS', 'FUSIONS', 'check_aggregation', 'check_fusion',
                     'fused_maps_of_images', 'feature_grid_maps_of_images',
                     'fused_maps_and_scores', 'infer_image_maps', 'load_partner_lists',
                     'PartnerSource', 'DEFAULT_BATCH_PIXELS', 'DEFAULT_CPU_BATCH_PIXELS',
                     'default_batch_pixels', 'model_device_type', 'model_needs_flip_pairs'):
            if hasattr(module, name):
                assert getattr(inference, name) is getattr(module, name), name
    assert inference._size_batches is forward.size_batches
    for name in ('infer_maps', 'class_maps', 'MAP_NORMALIZE_EPS', 'DEFAULT_BATCH_IMAGES'):
        assert hasattr(inference, name), name
    # the padded-batch layout of earlier releases is gone
    assert 'pad_views' not in inspect.signature(inference.infer_maps).parameters
