"""MCIS map inference: related images (deterministic per seed, labelled with the class, with
replacement), the multi-round average over related images, the authors' 5-map fusion rule and
its final uint8 resize, single-round = basic branch, rank split, and errors for listed related
images."""
import os
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wsss_toolbox.maps import load_maps
from wsss_toolbox.methods.mcis import (
    MCISClassifier,
    fuse_authors_maps,
    infer_mcis_maps,
    mcis_image_maps,
    resize_fused_maps,
    sample_related_images,
)
from wsss_toolbox.methods.mcis import inference as mcis_inference
from wsss_toolbox.utils import register_all_modules


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    from wsss_toolbox.datasets import SyntheticWSSSDataset
    from wsss_toolbox.datasets.synthetic_benchmark import generate_synthetic_benchmark
    register_all_modules(init_default_scope=False)
    root = str(tmp_path_factory.mktemp('mcis_infer'))
    generate_synthetic_benchmark(root, num_train=8, num_val=2, image_size=32, seed=1)
    dataset = SyntheticWSSSDataset(data_root=root, split='train', pipeline=[])
    samples = [dataset.get_data_info(i) for i in range(len(dataset))]
    torch.manual_seed(0)
    model = MCISClassifier(
        backbone=dict(type='TinyConvNet', base_channels=4, out_indices=(3, ), norm_cfg=None),
        head=dict(type='MCISHead', in_channels=16, num_classes=8, num_convs=1, channels=8,
                  init_std=0.3)).eval()
    return model, samples


def test_related_images_are_deterministic_labelled_and_drawn_with_replacement():
    labels = np.zeros((6, 3), bool)
    labels[[0, 1, 2], 0] = True
    labels[[3, 4], 1] = True
    labels[5, 2] = True
    a = sample_related_images(labels, 0, [0], 50, seed=3)
    assert a == sample_related_images(labels, 0, [0], 50, seed=3)  # same seed, same draw
    assert a != sample_related_images(labels, 0, [0], 50, seed=4)
    assert set(a[0]) == {0, 1, 2}  # only images with the class, the anchor included
    assert len(a[0]) == 50  # with replacement
    assert sample_related_images(labels, 5, [2], 3, seed=0) == {2: [5, 5, 5]}  # alone: itself


def features_of(model, image):
    return mcis_inference.image_features(model, [image])


def test_multi_round_is_the_mean_over_related_images_of_the_co_attention_map(setup):
    model, samples = setup
    anchor = mmcv.imread(samples[0]['img_path'], channel_order='bgr')
    others = [mmcv.imread(samples[i]['img_path'], channel_order='bgr') for i in (1, 2)]
    k = int(np.flatnonzero(samples[0]['gt_label'])[0])
    with torch.no_grad():
        maps = mcis_image_maps(model, anchor, {k: others}, mode='multi_round')
        own = features_of(model, anchor)['features']
        per_related = [model.head.pair_branches(own, features_of(model, other)['features'])[
            'co_cams_m'][0, k] for other in others]
    expected = F.relu((per_related[0] + per_related[1]) / 2)
    expected = F.interpolate(expected[None, None], size=anchor.shape[:2], mode='bilinear',
                             align_corners=False)[0, 0]
    torch.testing.assert_close(maps[k], expected)
    assert maps[[c for c in range(8) if c != k]].abs().sum() == 0
    # single-round (and 0 related images) is the basic branch: ReLU(S_n)
    with torch.no_grad():
        single = mcis_image_maps(model, anchor, {k: []}, mode='single_round')
        zero = mcis_image_maps(model, anchor, {k: []}, mode='multi_round')
        cams = features_of(model, anchor)['cams'][0]
    basic = F.interpolate(F.relu(cams)[None], size=anchor.shape[:2], mode='bilinear',
                          align_corners=False)[0]
    torch.testing.assert_close(single, basic)
    torch.testing.assert_close(zero, basic)


def test_authors_fusion_rule_on_hand_made_maps():
    always = torch.tensor([[[2., 0.], [0., 0.]]])  # map 1: kept, peak -> 255
    kept = torch.tensor([[[1., 1.], [1., 3.]]])  # mean 1.5: sigma > 0.1 -> kept
    dropped = torch.tensor([[[4., -10.], [-10., -10.]]])  # mean -6.5: sigma < 0.1 -> dropped
    fused = fuse_authors_maps([always, kept, dropped])
    expected = torch.floor((torch.tensor([[255., 0.], [0., 0.]])
                            + torch.tensor([[85., 85.], [85., 255.]])) / 5)
    torch.testing.assert_close(fused[0], expected)


def cubic_resize_matrix(n_in, n_out, a=-0.75):
    """Rows of the bicubic interpolation (Keys, a = -0.75; half-pixel centres; edge pixels
    repeated), the kernel of OpenCV's INTER_CUBIC, written out by hand."""
    def kernel(t):
        t = abs(t)
        if t <= 1:
            return (a + 2) * t**3 - (a + 3) * t**2 + 1
        return a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a if t < 2 else 0.
    rows = np.zeros((n_out, n_in))
    for out in range(n_out):
        src = (out + 0.5) * n_in / n_out - 0.5
        left = int(np.floor(src))
        for offset in (-1, 0, 1, 2):
            rows[out, min(max(left + offset, 0), n_in - 1)] += kernel(src - left - offset)
    return rows


def test_fused_map_final_resize_is_the_authors_uint8_cv2_resize():
    # authors (test.py L83, L105): the fused map as uint8, cv2.resize(INTER_CUBIC) -> uint8
    fused = torch.tensor([[[0., 255., 40.], [200., 10., 128.]]])
    interpolated = cubic_resize_matrix(2, 5) @ fused[0].numpy() @ cubic_resize_matrix(3, 4).T
    # by hand: e.g. -43.87 (-> 0), 200.10 (-> 200), 0.72 (-> 1); none within 0.018 of x.5
    assert abs(interpolated[0, 0] + 43.875) < 1e-3 and abs(interpolated[1, 0] - 0.716) < 1e-3
    assert np.abs(interpolated - np.floor(interpolated) - 0.5).min() > 0.015
    expected = np.clip(np.round(interpolated), 0, 255)
    authors = resize_fused_maps(fused, (5, 4))  # default: 'cv2_uint8'
    np.testing.assert_array_equal(authors[0].numpy(), expected)
    # 'float': the same interpolation, clamped, not rounded
    floats = resize_fused_maps(fused, (5, 4), 'float')
    np.testing.assert_allclose(floats[0].numpy(), np.clip(interpolated, 0, 255), atol=1e-3)
    assert np.abs(floats[0].numpy() - expected).max() <= 0.5
    with pytest.raises(ValueError, match='fusion_resize must be one of'):
        resize_fused_maps(fused, (5, 4), 'nearest')


def test_fusion_maps_are_whole_grey_levels_by_default(setup):
    model, samples = setup
    differ = 0
    for sample in samples:
        anchor = mmcv.imread(sample['img_path'], channel_order='bgr')
        classes = {int(k): [] for k in np.flatnonzero(sample['gt_label'])}
        with torch.no_grad():
            authors = mcis_image_maps(model, anchor, classes, mode='fusion') * 255
            floats = mcis_image_maps(model, anchor, classes, mode='fusion',
                                     fusion_resize='float') * 255
        torch.testing.assert_close(authors, authors.round(), atol=1e-4, rtol=0)
        assert (authors - floats).abs().max() <= 0.51
        differ += int((authors != floats).sum())
    assert differ > 0


@pytest.mark.filterwarnings('ignore:classes .* have a single image')
def test_infer_maps_deterministic_rank_split_and_fusion_files(setup, tmp_path, monkeypatch):
    model, samples = setup
    first, again = str(tmp_path / 'first'), str(tmp_path / 'again')
    # classes of a single image: allowed (the image is its own related image), said once
    with pytest.warns(UserWarning, match=r"have a single image \(\['train_"):
        infer_mcis_maps(model, samples, first, mode='fusion', num_related=2, related_seed=5)
    infer_mcis_maps(model, samples, again, mode='fusion', num_related=2, related_seed=5)
    assert len(os.listdir(first)) == len(samples)
    for sample in samples:
        a = load_maps(osp.join(first, f"{sample['img_id']}.npz"), sample['img_id'],
                      sample['gt_label'])
        b = load_maps(osp.join(again, f"{sample['img_id']}.npz"))
        np.testing.assert_array_equal(a['maps'], b['maps'])
        assert a['maps'].shape[1:] == (32, 32) and a['maps'].max() <= 1
    # two ranks write disjoint halves whose union is the one-process result
    split = str(tmp_path / 'split')
    for rank in (0, 1):
        monkeypatch.setattr(mcis_inference, 'get_dist_info', lambda rank=rank: (rank, 2))
        counts = infer_mcis_maps(model, samples, split, mode='fusion', num_related=2,
                                 related_seed=5)
        assert counts['written'] == len(samples[rank::2])
    for sample in samples:
        np.testing.assert_array_equal(
            load_maps(osp.join(split, f"{sample['img_id']}.npz"))['maps'],
            load_maps(osp.join(first, f"{sample['img_id']}.npz"))['maps'])


def test_listed_related_images_are_checked(setup, tmp_path):
    model, samples = setup
    ids = [sample['img_id'] for sample in samples]
    listed = {img_id: [img_id] for img_id in ids}
    counts = infer_mcis_maps(model, samples, str(tmp_path / 'ok'), mode='multi_round',
                             related=listed)
    assert counts['written'] == len(samples)
    with pytest.raises(ValueError, match=r"\['nowhere_7'\] of image"):
        infer_mcis_maps(model, samples, str(tmp_path / 'bad'), mode='multi_round',
                        related=dict(listed, **{ids[0]: ['nowhere_7']}))
    with pytest.raises(ValueError, match='mode must be one of'):
        infer_mcis_maps(model, samples, str(tmp_path / 'bad'), mode='rounds')
