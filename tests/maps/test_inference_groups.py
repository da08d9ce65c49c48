"""Map inference for groups (anchor + partners, cross-image methods) and strided maps."""
import json
import os

import mmcv
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import wsss_toolbox.maps.inference as inference
from wsss_toolbox.datasets import ImageGroupDataset
from wsss_toolbox.maps import load_maps, map_path
from wsss_toolbox.maps.inference import infer_maps
from wsss_toolbox.maps.partners import PartnerTable

NUM_CLASSES = 3


def drawn_partner_ids(samples, num_partners, rounds=1, seed=0, anchors=None):
    """``img_id -> [[partner ids of round 1], ...]`` as :func:`infer_maps` draws them."""
    table = PartnerTable(samples, None, num_partners, rounds, seed, exclude_anchor=False)
    indices = range(len(samples)) if anchors is None else anchors
    return {samples[i]['img_id']: [[samples[j]['img_id'] for j in group]
                                   for group in table.groups(i)] for i in indices}


class PartnerAwareModel(torch.nn.Module):
    """A model whose anchor maps depend on its partners.

    Inputs are BGR; every test image has a red ramp along x and a constant green value. For a
    group ``[anchor, partners...]`` (laid out by ``group_size``), the anchor's maps are
    class 0: red / 255 + the partners' mean green / 255 (an offset that survives the max
    normalisation: the normalised minimum is c / (1 + c)), class 1: red / 255, class 2: 0.
    It records the metainfo of every group it sees.
    """

    def __init__(self):
        super().__init__()
        self.groups = []

    def test_step(self, data):
        inputs, samples = data['inputs'], data['data_samples']
        assert len(inputs) == len(samples)
        start = 0
        while start < len(samples):
            size = samples[start].metainfo.get('group_size', 1)
            members = list(range(start, start + size))
            metas = [samples[i].metainfo for i in members]
            self.groups.append(metas)
            offset = (np.mean([inputs[i][1].float().mean().item() for i in members[1:]]) / 255
                      if size > 1 else 0.0)
            for position, i in enumerate(members):
                assert tuple(inputs[i].shape[-2:]) == tuple(samples[i].metainfo['img_shape'])
                red = inputs[i][2].float() / 255
                first = red + offset if position == 0 else red
                samples[i].pred_maps = torch.stack([first, red, torch.zeros_like(red)])
                samples[i].pred_scores = torch.full((NUM_CLASSES, ), 0.9)
            start += size
        return samples

    def anchors_seen(self):
        return [[meta.get('img_id') for meta in group] for group in self.groups]


def write_images(tmp_path, labels, height=8, width=12):
    """Image i: red ramp along x, green = 5 * (i + 1); its labels from ``labels[i]``."""
    samples = []
    for index, label in enumerate(labels):
        image = np.zeros((height, width, 3), np.uint8)
        image[..., 2] = np.linspace(0, 255, width).round().astype(np.uint8)[None]
        image[..., 1] = 5 * (index + 1)
        path = str(tmp_path / f'img{index}.png')
        mmcv.imwrite(image, path)
        samples.append(dict(img_id=f'img{index}', img_path=path,
                            gt_label=np.asarray(label, np.float32)))
    return samples


def green(index):
    return 5 * (index + 1) / 255


def recovered_offset(out_dir, img_id):
    """The offset c of class 0, from its normalised minimum m = c / (1 + c)."""
    record = load_maps(map_path(out_dir, img_id))
    assert record['classes'][0] == 0, 'the image must carry class 0'
    low = float(record['maps'][0].min())
    return low / (1 - low)


LABELS = [[1, 0, 1], [1, 0, 0], [0, 0, 1], [1, 0, 1], [0, 1, 0], [0, 1, 0]]


def test_explicit_partners_reach_the_forward(tmp_path):
    samples = write_images(tmp_path, LABELS)
    model = PartnerAwareModel()
    out_dir = str(tmp_path / 'maps')
    partners = {'img0': ['img2'], 'img1': ['img3', 'img0'], 'img2': ['img1'], 'img3': [],
                'img4': ['img5'], 'img5': ['img4']}
    counts = infer_maps(model, samples, out_dir, scales=(1.0, 0.5), flip=True,
                        partners=partners)
    assert counts.pop('bytes_per_image') > 0
    assert counts == dict(written=6, skipped=0, empty=1, warnings=[])  # img2: class 2, all 0
    # every view (2 scales x flip) of img0 went through with img2, group after group
    groups_of_img0 = [group for group in model.groups if group[0]['img_id'] == 'img0']
    assert len(groups_of_img0) == 4
    for view, group in enumerate(groups_of_img0):
        assert [meta['img_id'] for meta in group] == ['img0', 'img2']
        assert [meta['group_position'] for meta in group] == [0, 1]
        assert all(meta['group_size'] == 2 and meta['group_anchor'] == 0 for meta in group)
        assert group[0]['flip'] == group[1]['flip'] == bool(view % 2)
        assert group[0]['img_shape'] == group[1]['img_shape']
    # the anchor's maps carry its partners' pixels: the offset is their mean green value
    # (one scale, so the ramp keeps its exact 0 and 1)
    out_dir = str(tmp_path / 'one_scale')
    infer_maps(model, samples, out_dir, scales=(1.0, ), flip=True, partners=partners)
    assert recovered_offset(out_dir, 'img0') == pytest.approx(green(2), abs=2e-3)
    assert recovered_offset(out_dir, 'img1') == pytest.approx((green(3) + green(0)) / 2,
                                                              abs=2e-3)
    assert recovered_offset(out_dir, 'img3') == pytest.approx(0, abs=1e-3)  # no partner
    assert all(group[0]['group_size'] == 1 for group in model.groups
               if group[0]['img_id'] == 'img3')
    assert load_maps(map_path(out_dir, 'img1'))['classes'].tolist() == [0]


def test_partner_file_and_rounds_from_lists(tmp_path):
    samples = write_images(tmp_path, LABELS)
    listed = {sample['img_id']: [['img4'], ['img5']] for sample in samples}
    path = tmp_path / 'partners.json'
    path.write_text(json.dumps(listed))
    model = PartnerAwareModel()
    out_dir = str(tmp_path / 'maps')
    infer_maps(model, samples, out_dir, scales=(1.0, ), flip=False, partners=str(path))
    # two rounds: the mean of the fused maps, so the offset is the mean of both partners
    assert recovered_offset(out_dir, 'img0') == pytest.approx((green(4) + green(5)) / 2,
                                                              abs=2e-3)
    assert [ids for ids in model.anchors_seen() if ids[0] == 'img0'] == [['img0', 'img4'],
                                                                         ['img0', 'img5']]


def test_drawn_partners_share_a_class_and_are_deterministic(tmp_path):
    rng = np.random.default_rng(3)
    labels = (rng.random((30, NUM_CLASSES)) < 0.4).astype(np.float32)
    labels[np.arange(30), rng.integers(0, NUM_CLASSES, 30)] = 1
    samples = write_images(tmp_path, labels)
    kwargs = dict(scales=(1.0, ), flip=False, num_partners=2, rounds=3, partner_seed=7)
    first, second = PartnerAwareModel(), PartnerAwareModel()
    infer_maps(first, samples, str(tmp_path / 'a'), **kwargs)
    infer_maps(second, samples, str(tmp_path / 'b'), **kwargs)
    assert first.anchors_seen() == second.anchors_seen()
    for sample in samples:
        np.testing.assert_array_equal(load_maps(map_path(str(tmp_path / 'a'), sample['img_id']))
                                      ['maps'],
                                      load_maps(map_path(str(tmp_path / 'b'), sample['img_id']))
                                      ['maps'])
    # 3 groups of 3 per anchor, the partners the partner table draws, each sharing a class
    expected = drawn_partner_ids(samples, num_partners=2, rounds=3, seed=7)
    index = {sample['img_id']: i for i, sample in enumerate(samples)}
    for anchor, groups in expected.items():
        seen = [ids[1:] for ids in first.anchors_seen() if ids[0] == anchor]
        assert seen == groups and len(groups) == 3
        assert all(len(ids) == 2 for ids in groups)
        for partner in sum(groups, []):
            assert np.any(labels[index[anchor]] * labels[index[partner]] > 0)
        # rounds average: the offset is the mean over the 3 rounds of the partners' green
        if not labels[index[anchor], 0]:
            continue
        mean_green = np.mean([np.mean([green(index[p]) for p in ids]) for ids in groups])
        assert recovered_offset(str(tmp_path / 'a'), anchor) == pytest.approx(mean_green,
                                                                             abs=2e-3)
    # the rounds draw different partners
    assert sum(len({tuple(ids) for ids in groups}) > 1 for groups in expected.values()) > 20
    # another seed draws other partners; the draw of an anchor does not depend on the others
    assert drawn_partner_ids(samples, 2, 3, seed=8) != expected
    assert drawn_partner_ids(samples, 2, 3, seed=7, anchors=[4]) == {'img4': expected['img4']}


def test_round_zero_is_the_group_of_the_training_group_dataset(tmp_path):
    """The first round's partners are those ImageGroupDataset draws for an int index."""
    rng = np.random.default_rng(5)
    labels = (rng.random((25, 4)) < 0.35).astype(np.float32)
    labels[:, 0] = np.maximum(labels[:, 0], rng.random(25) < 0.3)
    samples = [dict(img_id=f'i{i}', img_path='', gt_label=label)
               for i, label in enumerate(labels)]

    class Items:
        def __len__(self):
            return len(samples)

        def get_data_info(self, index):
            return samples[index]

    groups = ImageGroupDataset(Items(), group_size=3, seed=11)
    drawn = drawn_partner_ids(samples, num_partners=2, rounds=2, seed=11)
    for anchor in range(len(samples)):
        group = groups.group_of(anchor)
        assert drawn[f'i{anchor}'][0] == [f'i{i}' for i in group[1:]]


def test_ranks_split_the_anchors_and_partners_come_from_all(tmp_path, monkeypatch):
    samples = write_images(tmp_path, LABELS)
    model = PartnerAwareModel()
    monkeypatch.setattr(inference, 'get_dist_info', lambda: (1, 2))
    out_dir = str(tmp_path / 'maps')
    counts = infer_maps(model, samples, out_dir, flip=False, num_partners=1, partner_seed=0)
    size = counts.pop('bytes_per_image')
    assert size > 0
    assert counts == dict(written=3, skipped=0, empty=0, warnings=[])
    assert sorted(os.listdir(out_dir)) == ['img1.npz', 'img3.npz', 'img5.npz']
    assert {ids[0] for ids in model.anchors_seen()} == {'img1', 'img3', 'img5'}
    assert {meta['group_anchor'] for group in model.groups for meta in group} == {1, 3, 5}
    # resumable as without partners
    assert infer_maps(model, samples, out_dir, num_partners=1) == dict(
        written=0, skipped=3, empty=0, bytes_per_image=size, warnings=[])


def test_without_partners_the_output_is_unchanged(tmp_path):
    """No partner option: images run alone (no group metainfo) and the maps are exactly the
    former computation: sum over the views, clamp, divide by clamp(max, 1e-5)."""
    samples = write_images(tmp_path, LABELS[:3], height=9, width=13)
    model = PartnerAwareModel()
    out_dir = str(tmp_path / 'maps')
    scales = (1.0, 0.75, 1.5)
    infer_maps(model, samples, out_dir, scales=scales, flip=True)
    assert all('group_size' not in meta for group in model.groups for meta in group)
    assert all(len(group) == 1 for group in model.groups)
    for sample in samples:
        image = mmcv.imread(sample['img_path'])
        total = None
        for scale in scales:
            scaled = image if scale == 1 else mmcv.imrescale(image, scale,
                                                             interpolation='bilinear')
            for flipped in (False, True):
                view = mmcv.imflip(scaled) if flipped else scaled
                red = torch.from_numpy(np.ascontiguousarray(view[..., 2])).float() / 255
                maps = torch.stack([red, red, torch.zeros_like(red)])
                maps = maps.flip(-1) if flipped else maps
                maps = F.interpolate(maps[None], size=image.shape[:2], mode='bilinear',
                                     align_corners=False)[0]
                total = maps if total is None else total + maps
        total = total.clamp_(min=0)
        classes = np.flatnonzero(sample['gt_label'] > 0)
        selected = total[torch.from_numpy(classes)]
        peak = selected.flatten(1).max(dim=1).values.clamp(min=1e-5)
        expected = np.clip((selected / peak[:, None, None]).numpy(), 0, 1).astype(np.float16)
        with np.load(map_path(out_dir, sample['img_id'])) as raw:
            assert sorted(raw.files) == ['classes', 'img_id', 'maps']
            assert raw['maps'].dtype == np.float16
            np.testing.assert_array_equal(raw['maps'], expected)


def test_strided_maps_are_written(tmp_path):
    samples = write_images(tmp_path, LABELS[:2], height=10, width=13)
    out_dir = str(tmp_path / 'maps')
    infer_maps(PartnerAwareModel(), samples, out_dir, scales=(1.0, 0.5), stride=4)
    record = load_maps(map_path(out_dir, 'img0'))
    assert record['stride'] == 4
    assert record['maps'].shape == (2, 10, 13) and record['strided_maps'].shape == (2, 3, 4)
    # each strided class map: the fused map resized to ceil(H/4) x ceil(W/4), over its max
    fused = inference.infer_image_maps(PartnerAwareModel(), mmcv.imread(samples[0]['img_path']),
                                       scales=(1.0, 0.5))[[0, 2]]
    small = F.interpolate(fused[None], size=(3, 4), mode='bilinear', align_corners=False)[0]
    expected = small / small.flatten(1).amax(1).clamp(min=1e-5)[:, None, None]
    np.testing.assert_allclose(record['strided_maps'], expected.numpy(), atol=1e-3)
    assert record['strided_maps'][0].max() == pytest.approx(1, abs=1e-3)
    assert np.all(record['strided_maps'][1] == 0)
    # no stride: no strided maps
    infer_maps(PartnerAwareModel(), samples, str(tmp_path / 'plain'))
    assert 'strided_maps' not in load_maps(map_path(str(tmp_path / 'plain'), 'img0'))


@pytest.mark.parametrize('kwargs, message', [
    (dict(partners={'img0': ['img1']}, num_partners=1), 'not both'),
    (dict(rounds=2), 'rounds needs partners'),
    (dict(partners={'img0': ['img1']}, rounds=2), 'one list per round'),
    (dict(partners={'img0': ['img1'], 'img1': ['nope']}), r"\['nope'\] of image 'img1'"),
    (dict(partners={'img0': ['img1']}), "no entry for image 'img1'"),
    (dict(partners={'img0': 'img1', 'img1': []}), 'list of image ids'),
    (dict(num_partners=-1), 'num_partners must be >= 0'),
    (dict(num_partners=1, rounds=0), 'rounds must be >= 1'),
    (dict(stride=0), 'stride must be an integer >= 1'),
])
def test_bad_partner_options(tmp_path, kwargs, message):
    samples = write_images(tmp_path, LABELS[:2])
    with pytest.raises(ValueError, match=message):
        infer_maps(PartnerAwareModel(), samples, str(tmp_path / 'maps'), **kwargs)


def test_missing_partner_file(tmp_path):
    samples = write_images(tmp_path, LABELS[:2])
    with pytest.raises(FileNotFoundError, match='nowhere.json'):
        infer_maps(PartnerAwareModel(), samples, str(tmp_path / 'maps'),
                   partners=str(tmp_path / 'nowhere.json'))
