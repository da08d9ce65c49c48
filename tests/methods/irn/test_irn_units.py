"""IRN's parts against hand-made inputs: seed labels, pixel pairs and their labels, the
affinity of a path, the loss, the transition matrix, the random walk, and bad input."""
import numpy as np
import pytest
import torch

from wsss_toolbox.maps import save_maps
from wsss_toolbox.methods.irn import (
    AffinityNet,
    IRNSeedLabelGenerator,
    affinity_labels,
    affinity_loss,
    boundary_to_affinity,
    dense_affinity,
    load_strided_maps,
    make_seed_label,
    pair_offsets,
    path_points,
    random_walk_label,
    random_walk_maps,
    transition_matrix,
)
from wsss_toolbox.methods.irn.steps import IRNSeeds


# ---------------------------------------------------------------------------- seeds
def test_seed_label_confident_fg_bg_and_ignore_zone():
    maps = np.zeros((2, 4, 6), np.float32)
    maps[0, :, 0] = 0.9   # class 3: confident (> 0.30)
    maps[0, :, 1] = 0.2   # class 3: between 0.05 and 0.30 -> ignore
    maps[1, :, 2] = 0.5   # class 5: confident
    maps[1, :, 3] = 0.30  # class 5: exactly the fg threshold -> background wins -> ignore
    maps[1, :, 4] = 0.05  # exactly the bg threshold -> background in both -> background
    seed = make_seed_label(maps, np.array([3, 5]), None, crf=None)
    expected = np.array([4, 255, 6, 255, 0, 0], np.uint8)
    assert seed.dtype == np.uint8
    np.testing.assert_array_equal(seed, np.tile(expected, (4, 1)))


def test_seed_generator_crf_snaps_the_confident_regions_to_the_object():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 40, (24, 24, 3)).astype(np.uint8)
    image[6:18, 6:18] = (220, 30, 30)
    maps = np.zeros((1, 24, 24), np.float32)
    maps[0, 7:17, 7:17] = 1.0  # confident, a little inside the object
    maps[0, 4:20, 4:20] = np.maximum(maps[0, 4:20, 4:20], 0.2)  # weak, a little outside
    seed = IRNSeedLabelGenerator()(maps, np.array([0]), image=image)
    without_crf = IRNSeedLabelGenerator(crf=None)(maps, np.array([0]), image=image)
    assert (without_crf[4:20, 4:20] != 0).all() and (without_crf[5, 5:19] == 255).all()
    expected = np.zeros((24, 24), np.uint8)
    expected[6:18, 6:18] = 1
    np.testing.assert_array_equal(seed, expected)


def test_a_seed_without_confident_pixels_is_named_in_one_warning(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import wsss_toolbox.pipeline.steps as core_steps
    from wsss_toolbox.pseudo_labels.label_io import save_label
    runner = SimpleNamespace(path=lambda *parts: str(tmp_path.joinpath(*parts)))
    step = IRNSeeds('irn_seeds', runner)
    out = tmp_path / 'irn_seeds'
    out.mkdir()
    save_label(str(out / 'img_a.png'), np.array([[0, 1], [255, 1]], np.uint8))
    save_label(str(out / 'img_b.png'), np.array([[0, 255], [255, 0]], np.uint8))
    monkeypatch.setattr(step, 'samples',
                        lambda: ([dict(img_id='img_a'), dict(img_id='img_b')], ['cls']))
    # the labels are already written: skip the core runner, keep IRNSeeds' check
    monkeypatch.setattr(core_steps.MakePseudoLabels, 'run',
                        lambda self: dict(ignored_fraction=0.0))
    with pytest.warns(UserWarning, match='no confident foreground') as record:
        result = step.run()
    assert len(record) == 1 and '"img_b"' in str(record[0].message)
    assert '"img_a"' not in str(record[0].message)
    assert result['num_without_foreground'] == 1 and result['without_foreground'] == ['img_b']


# ---------------------------------------------------------------------------- pairs
def test_pair_offsets_radius_and_half_disc():
    offsets = set(pair_offsets(10))
    assert (0, 9) in offsets and (0, 10) not in offsets      # strictly within the radius
    assert (6, 7) in offsets and (7, 8) not in offsets       # 85 < 100 <= 113
    assert (0, -1) not in offsets and (1, -9) in offsets     # one of o / -o
    assert all(dy > 0 or (dy == 0 and dx > 0) for dy, dx in offsets)
    assert sorted(pair_offsets(3)) == [(0, 1), (0, 2), (1, -2), (1, -1), (1, 0), (1, 1),
                                       (1, 2), (2, -2), (2, -1), (2, 0), (2, 1), (2, 2)]


def test_line_path_points_are_the_straight_line_with_both_ends():
    assert path_points((0, 3), path='line') == [(0, 0), (0, 1), (0, 2), (0, 3)]
    assert path_points((2, -2), path='line') == [(0, 0), (1, -1), (2, -2)]
    assert path_points((1, 4), path='line') == [(0, 0), (0, 1), (1, 2), (1, 3), (1, 4)]
    with pytest.raises(ValueError, match="path must be one of"):
        path_points((1, 1), path='curve')


def test_affinity_labels_same_different_ignore_and_outside():
    seeds = torch.tensor([[[1, 1, 0, 255, 2]]])  # one row, 5 pixels
    labels = affinity_labels(seeds, radius=3, pair_sources='all')
    slot = {offset: i for i, offset in enumerate(pair_offsets(3))}
    right, two_right = slot[(0, 1)], slot[(0, 2)]

    def at(kind, offset_slot, x):
        return labels[kind][0, offset_slot, 0, x].item()

    assert at('fg_pos', right, 0) == 1 and at('neg', right, 0) == 0    # 1 - 1
    assert at('neg', right, 1) == 1                                     # 1 - 0
    assert all(at(kind, right, 2) == 0 for kind in labels)              # 0 - 255: ignored
    assert at('neg', two_right, 2) == 1                                 # 0 - 2
    assert at('neg', two_right, 0) == 1                                 # 1 - 0
    assert all(at(kind, two_right, 4) == 0 for kind in labels)          # partner outside
    assert all(labels[kind][0, slot[(1, 0)]].sum() == 0 for kind in labels)  # one row only
    zeros = torch.zeros(1, 3, 3, dtype=torch.long)
    bg = affinity_labels(zeros, radius=2, pair_sources='all')
    # radius 2: offsets (0,1) (1,-1) (1,0) (1,1); pairs inside a 3x3 grid: 6 + 4 + 6 + 4
    assert bg['bg_pos'].sum() == 20 and bg['fg_pos'].sum() == 0 and bg['neg'].sum() == 0
    # the authors' sources (default): rows [0, 2), column 1 -> 2 pixels x 4 offsets
    cropped = affinity_labels(zeros, radius=2)['bg_pos']
    assert cropped.sum() == 8 and cropped[0, :, :2, 1].sum() == 8


def test_affinity_labels_warn_when_the_grid_has_no_source_pixel():
    with pytest.warns(UserWarning, match="no source pixel.*pair_sources='all'"):
        labels = affinity_labels(torch.zeros(1, 12, 12, dtype=torch.long), radius=10)
    assert all(mask.sum() == 0 for mask in labels.values())
    with pytest.raises(ValueError, match='pair_sources must be one of'):
        affinity_labels(torch.zeros(1, 4, 4, dtype=torch.long), 2, pair_sources='inner')


def test_affinity_is_one_minus_the_max_boundary_on_the_path():
    boundary = torch.zeros(1, 1, 5)
    boundary[0, 0, 2] = 0.8
    boundary[0, 0, 4] = 0.3
    affinity = boundary_to_affinity(boundary, radius=4)
    slot = {offset: i for i, offset in enumerate(pair_offsets(4))}
    assert affinity[0, slot[(0, 1)], 0, 0] == pytest.approx(1.0)    # 0 -> 1: no boundary
    assert affinity[0, slot[(0, 3)], 0, 0] == pytest.approx(0.2)    # crosses x = 2
    assert affinity[0, slot[(0, 1)], 0, 3] == pytest.approx(0.7)    # ends on x = 4
    assert affinity[0, slot[(0, 2)], 0, 4] == pytest.approx(0.0)    # partner outside


def test_affinity_loss_against_a_hand_computation():
    affinity = torch.tensor([0.9, 0.5, 0.2, 0.6]).view(1, 4, 1, 1)
    labels = dict(bg_pos=torch.tensor([1., 0, 0, 0]).view(1, 4, 1, 1),
                  fg_pos=torch.tensor([0., 1, 0, 0]).view(1, 4, 1, 1),
                  neg=torch.tensor([0., 0, 1, 1]).view(1, 4, 1, 1))
    losses = affinity_loss(affinity, labels, eps=0.0)
    positive = (-np.log(0.9) - np.log(0.5)) / 2
    negative = (-np.log(0.8) - np.log(0.4)) / 2
    assert losses['loss_pos'].item() == pytest.approx(positive / 2, rel=1e-5)
    assert losses['loss_neg'].item() == pytest.approx(negative / 2, rel=1e-5)


def test_affinity_net_loss_backpropagates_to_the_head_only():
    model = AffinityNet(
        backbone=dict(type='TinyConvNet', base_channels=4, out_indices=(0, 1, 2, 3)),
        head=dict(type='BoundaryHead', in_channels=(4, 8, 16, 16), channels=4, num_groups=2),
        radius=3)
    from mmengine.structures import PixelData

    from wsss_toolbox.structures import WSSSDataSample
    samples = []
    for _ in range(2):
        sample = WSSSDataSample()
        seed = torch.zeros(1, 32, 32, dtype=torch.long)
        seed[:, 8:24, 8:24] = 1
        sample.gt_sem_seg = PixelData(data=seed)
        samples.append(sample)
    model.train()
    losses = model(torch.randn(2, 3, 32, 32), samples, mode='loss')
    sum(losses.values()).backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert all(p.grad is not None for p in model.head.parameters())
    assert model(torch.randn(1, 3, 30, 30), mode='tensor').shape == (1, 1, 8, 8)


# ---------------------------------------------------------------------------- random walk
def two_region_boundary(size=12):
    boundary = torch.zeros(size, size)
    boundary[:, size // 2] = 1.0  # a wall between the left and the right half
    return boundary


def test_transition_matrix_is_row_stochastic_and_local():
    boundary = torch.rand(6, 7) * 0.5
    affinity = dense_affinity(boundary, radius=3)
    assert torch.allclose(affinity, affinity.T)
    assert torch.all(affinity.diagonal() == 1)
    assert affinity[0, 3 * 7 + 3] == 0  # (0,0) and (3,3) are farther than the radius
    transition = transition_matrix(affinity, beta=10)
    assert torch.all(transition >= 0)
    torch.testing.assert_close(transition.sum(dim=1), torch.ones(42))
    assert torch.allclose(transition, affinity.pow(10) / affinity.pow(10).sum(1, keepdim=True))


@pytest.mark.parametrize('power', ['squaring', 'steps'])
def test_random_walk_keeps_two_regions_apart(power):
    boundary = two_region_boundary()
    maps = torch.zeros(2, 12, 12)
    maps[0, 5, 1] = 1.0   # class A seeded on the left
    maps[1, 5, 10] = 1.0  # class B seeded on the right
    walked = random_walk_maps(maps, boundary, beta=10, exp_times=8, radius=5, power=power)
    left, right = slice(0, 6), slice(7, 12)
    assert walked[0][:, right].sum() < 1e-4 * walked[0].sum()
    assert walked[1][:, left].sum() < 1e-4 * walked[1].sum()
    # the walk spreads each class over its whole region
    assert (walked[0][:, :5] > 0).all() and (walked[1][:, 8:] > 0).all()
    label = random_walk_label(maps, boundary, [2, 6], (48, 48), stride=4, power=power,
                              bg_threshold=0.0)
    assert (label[:, :20] == 3).all() and (label[:, 30:] == 7).all()


def test_squaring_and_steps_give_the_same_walk():
    boundary = torch.rand(8, 8) * 0.6
    maps = torch.rand(3, 8, 8)
    squared = random_walk_maps(maps, boundary, power='squaring')
    stepped = random_walk_maps(maps, boundary, power='steps')
    torch.testing.assert_close(squared, stepped, atol=1e-5, rtol=1e-4)


def test_walk_labels_background_score_and_no_class():
    walked = torch.zeros(1, 2, 2)
    walked[0, 0, 0] = 1.0
    walked[0, 1, 1] = 0.2
    label = random_walk_label(None, None, [4], (2, 2), stride=1, bg_threshold=0.25,
                              walked=walked)
    np.testing.assert_array_equal(label, [[5, 0], [0, 0]])
    empty = random_walk_label(None, None, [], (3, 5), stride=4, walked=torch.zeros(0, 1, 2))
    assert empty.shape == (3, 5) and not empty.any()


# ---------------------------------------------------------------------------- bad input
def test_maps_without_strided_maps_name_the_folder_and_image(tmp_path):
    sample = dict(img_id='img_3', gt_label=np.eye(3, dtype=np.float32)[1])
    save_maps(str(tmp_path / 'img_3.npz'), 'img_3', np.array([1]), np.ones((1, 8, 8)))
    with pytest.raises(ValueError, match=r'"img_3".*"' + str(tmp_path) + '".*stride=4'):
        load_strided_maps(str(tmp_path), sample, stride=4)
    save_maps(str(tmp_path / 'img_3.npz'), 'img_3', np.array([1]), np.ones((1, 8, 8)),
              strided_maps=np.ones((1, 4, 4)), stride=2)
    with pytest.raises(ValueError, match='stride 2'):
        load_strided_maps(str(tmp_path), sample, stride=4)
