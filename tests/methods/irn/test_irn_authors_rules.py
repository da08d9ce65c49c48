"""IRN's arithmetic against the authors' rules computed by hand: each
test writes out the cited lines of jiwoon-ahn/irn in a few lines of numpy / torch / PIL on a
small case and compares them with our default, and checks that the other reading (the named
option) differs there, so the test can fail."""
import numpy as np
import pytest
import torch
from PIL import Image

from wsss_toolbox.methods.irn import (
    AffinityNet,
    IRNSeedLabelGenerator,
    affinity_labels,
    affinity_loss,
    boundary_to_affinity,
    dense_affinity,
    image_boundary,
    make_seed_label,
    pair_offsets,
    path_points,
    random_walk_label,
    random_walk_maps,
)
from wsss_toolbox.methods.irn.affinity import strided_seeds


# ------------------------------------------------------------------ hand transcriptions
def authors_band(offset):
    """misc/indexing.py L32-46: the cells of the bounding box whose squared distance to the
    line through (0, 0) and ``offset`` is below 1 (float arithmetic, as written there)."""
    dy, dx = offset
    length_sq = dy ** 2 + dx ** 2
    cells = set()
    for y in range(min(0, dy), max(0, dy) + 1):
        for x in range(min(0, dx), max(0, dx) + 1):
            if (dy * x - dx * y) ** 2 / length_sq < 1:
                cells.add((y, x))
    return cells


def authors_pairs(height, width, radius):
    """misc/indexing.py L58-88: (source, destination) flat indices of the training pairs,
    sources cropped by radius_floor = radius - 1 at the bottom, left and right."""
    floor = radius - 1
    full = np.arange(height * width).reshape(height, width)
    crop_h, crop_w = height - floor, width - 2 * floor
    src = full[:crop_h, floor:floor + crop_w].reshape(-1)
    pairs = []
    for dy, dx in pair_offsets(radius):  # the same disc (L22-30); the order does not matter
        dst = full[dy:dy + crop_h, floor + dx:floor + dx + crop_w].reshape(-1)
        pairs += [((dy, dx), int(s), int(d)) for s, d in zip(src, dst)]
    return pairs


def authors_pil_rescale(label, scale):
    """misc/imutils.py L8-22 with order 0 (PIL nearest)."""
    height, width = label.shape
    size = (int(np.round(height * scale)), int(np.round(width * scale)))
    return np.asarray(Image.fromarray(label).resize(size[::-1], Image.NEAREST))


# ------------------------------------------------------------------ item 1: seed sampling
def test_strided_seeds_read_the_pixel_pil_nearest_reads():
    rng = np.random.default_rng(0)
    label = rng.integers(0, 21, (16, 24)).astype(np.uint8)
    label[rng.random(label.shape) < 0.2] = 255
    expected = authors_pil_rescale(label, 0.25)        # what the authors' loader reads
    assert expected.shape == (4, 6)
    # by hand: PIL's nearest reads pixel 4i + 2 of a size divisible by 4
    np.testing.assert_array_equal(expected, label[2::4, 2::4])
    ours = strided_seeds(torch.from_numpy(label)[None], 4, (4, 6))[0].numpy()
    np.testing.assert_array_equal(ours, expected)
    old = strided_seeds(torch.from_numpy(label)[None], 4, (4, 6), sampling='top_left')[0]
    assert (old.numpy() != expected).any()             # the option reads 4i
    # the authors' 512 crop reduced to the 128 grid: the same rule
    crop = rng.integers(0, 3, (512, 512)).astype(np.uint8)
    np.testing.assert_array_equal(
        strided_seeds(torch.from_numpy(crop)[None], 4, (128, 128))[0].numpy(),
        authors_pil_rescale(crop, 0.25))
    assert tiny_affinity_net().seed_sampling == 'pil_nearest'
    # a grid cell whose pixel 4i + 2 lies past the seed (H = 29, 8 cells) is ignored
    tall = torch.zeros(1, 29, 8, dtype=torch.uint8)
    assert strided_seeds(tall, 4, (8, 2))[0, 7].tolist() == [255, 255]


# ------------------------------------------------------------------ item 2: path cells
def test_band_paths_against_the_authors_rule():
    # written out by hand from (dy x - dx y)^2 / (dy^2 + dx^2) < 1 in the bounding box
    by_hand = {
        (0, 3): {(0, 0), (0, 1), (0, 2), (0, 3)},
        (1, 1): {(0, 0), (0, 1), (1, 0), (1, 1)},
        (1, 2): {(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)},
        (2, -1): {(0, 0), (0, -1), (1, 0), (1, -1), (2, 0), (2, -1)},
        (2, 3): {(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (1, 3), (2, 2), (2, 3)},
        (3, 3): {(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (2, 1), (2, 2), (2, 3), (3, 2),
                 (3, 3)},
    }
    for offset, cells in by_hand.items():
        assert set(path_points(offset)) == cells == authors_band(offset), offset
    for radius in (5, 10):
        for offset in pair_offsets(radius):
            assert set(path_points(offset)) == authors_band(offset), offset
    # the straight line (the option) steps diagonally: (1, 1) -> only its two ends
    assert path_points((1, 1), path='line') == [(0, 0), (1, 1)]


def test_a_diagonal_pair_does_not_cross_a_one_cell_outline_with_band_paths():
    boundary = torch.zeros(1, 4, 4)
    boundary[0, 0, 1] = boundary[0, 1, 0] = 1.0        # a one-cell diagonal wall
    slot = pair_offsets(3).index((1, 1))
    assert boundary_to_affinity(boundary, 3)[0, slot, 0, 0] == 0.0
    assert boundary_to_affinity(boundary, 3, path='line')[0, slot, 0, 0] == 1.0


# ------------------------------------------------------------------ item 3: training pairs
@pytest.mark.parametrize('radius', [3, 5])
def test_training_pairs_and_loss_against_the_authors_path_index(radius):
    rng = np.random.default_rng(radius)
    height, width = 11, 13
    seeds = rng.choice([0, 0, 1, 2, 255], size=(height, width))
    edge = rng.random((height, width)).astype(np.float32)
    flat_seed, flat_edge = seeds.reshape(-1), edge.reshape(-1)
    # voc12/dataloader.py L78-101 (labels of the pairs) and net/resnet50_irn.py L162-174 +
    # step/train_irn.py L58-61 (affinity of a path, loss)
    kinds = {'bg_pos': set(), 'fg_pos': set(), 'neg': set()}
    sums = {'bg_pos': 0.0, 'fg_pos': 0.0, 'neg': 0.0}
    width_of = {offset: 0 for offset in pair_offsets(radius)}
    for offset, src, dst in authors_pairs(height, width, radius):
        a, b = flat_seed[src], flat_seed[dst]
        if a >= 21 or b >= 21:
            continue
        y, x = divmod(src, width)
        path = [flat_edge[(y + cy) * width + x + cx] for cy, cx in authors_band(offset)]
        affinity = 1 - max(path)
        kind = 'neg' if a != b else ('bg_pos' if a == 0 else 'fg_pos')
        kinds[kind].add((offset, src))
        sums[kind] += -np.log(1 + 1e-5 - affinity) if kind == 'neg' else \
            -np.log(affinity + 1e-5)
        width_of[offset] += 1
    means = {k: sums[k] / (len(kinds[k]) + 1e-5) for k in kinds}
    expected = ((means['bg_pos'] / 2 + means['fg_pos'] / 2) + means['neg']) / 2

    labels = affinity_labels(torch.from_numpy(seeds)[None], radius)
    offsets = pair_offsets(radius)
    for kind, pairs in kinds.items():
        ours = {(offsets[o], int(y) * width + int(x))
                for o, y, x in labels[kind][0].nonzero().tolist()}
        assert ours == pairs, kind
    affinity = boundary_to_affinity(torch.from_numpy(edge)[None], radius)
    losses = affinity_loss(affinity, labels)
    assert sum(losses.values()).item() == pytest.approx(expected, rel=1e-5)
    # the option: every pixel whose partner is in the grid -- more pairs, another loss
    every = affinity_labels(torch.from_numpy(seeds)[None], radius, pair_sources='all')
    assert sum(every[k].sum() for k in every) > sum(labels[k].sum() for k in labels)


def test_pair_counts_of_the_two_source_sets():
    # radius 10 on a 32x32 grid: the authors' sources are 23 x 14 pixels, each with all its
    # partners inside; 'all' takes every in-grid pair
    seeds = torch.zeros(1, 32, 32, dtype=torch.long)
    cropped = affinity_labels(seeds, 10)['bg_pos'].sum().item()
    every = affinity_labels(seeds, 10, pair_sources='all')['bg_pos'].sum().item()
    assert cropped == 23 * 14 * len(pair_offsets(10))
    assert every / cropped == pytest.approx(2.39, abs=0.01)


# ------------------------------------------------------------------ the random walk's pairs
def authors_propagate(maps, edge, radius, beta, exp_times):
    """misc/indexing.py L112-167 (propagate_to_edge): pad the edge map with 1 (radius left,
    right and below), pairs of the cropped sources of the padded grid, dense symmetric
    affinity with ones on the diagonal, cropped back to the image, column-normalised A^beta
    squared exp_times times, x (1 - edge) multiplied from the left."""
    height, width = edge.shape
    padded = np.pad(edge, ((0, radius), (radius, radius)), constant_values=1.0)
    ph, pw = padded.shape
    floor = radius - 1
    dense = np.eye(ph * pw, dtype=np.float64)
    for y in range(ph - floor):
        for x in range(floor, pw - floor):
            for dy, dx in pair_offsets(radius):
                path = max(padded[y + cy, x + cx] for cy, cx in authors_band((dy, dx)))
                src, dst = y * pw + x, (y + dy) * pw + x + dx
                dense[src, dst] = dense[dst, src] = 1 - path
    dense = dense.reshape(ph, pw, ph, pw)[:-radius, radius:-radius, :-radius, radius:-radius]
    dense = dense.reshape(height * width, height * width) ** beta
    trans = dense / dense.sum(axis=0, keepdims=True)
    for _ in range(exp_times):
        trans = trans @ trans
    return (maps * (1 - edge)).reshape(len(maps), -1) @ trans


def test_walk_against_the_authors_propagate_to_edge():
    rng = np.random.default_rng(3)
    edge = (rng.random((6, 7)) * 0.7).astype(np.float32)
    edge[:, 3] = 0.95                                   # a wall that paths must cross
    maps = rng.random((2, 6, 7)).astype(np.float32)
    expected = authors_propagate(maps, edge, radius=3, beta=10, exp_times=3)
    ours = random_walk_maps(torch.from_numpy(maps), torch.from_numpy(edge), beta=10,
                            exp_times=3, radius=3, power='squaring')
    np.testing.assert_allclose(ours.reshape(2, -1).numpy(), expected, rtol=1e-4, atol=1e-7)
    line = random_walk_maps(torch.from_numpy(maps), torch.from_numpy(edge), beta=10,
                            exp_times=3, radius=3, power='squaring', path='line')
    assert not np.allclose(line.reshape(2, -1).numpy(), expected, rtol=1e-3)
    # every in-image pair is in the walk's matrix (no source pixel left out)
    affinity = dense_affinity(torch.zeros(6, 7), radius=3)
    assert int((affinity > 0).sum()) == 6 * 7 + 2 * sum(
        max(6 - dy, 0) * max(7 - abs(dx), 0) for dy, dx in pair_offsets(3))


# ------------------------------------------------------------------ item 4: padding
def tiny_affinity_net(**kwargs):
    return AffinityNet(
        backbone=dict(type='TinyConvNet', base_channels=4, out_indices=(0, 1, 2, 3)),
        head=dict(type='BoundaryHead', in_channels=(4, 8, 16, 16), channels=4, num_groups=2),
        radius=3, **kwargs).eval()


def authors_edge(model, image, crop_size):
    """net/resnet50_irn.py L216-234 (EdgeDisplacement) on voc12/dataloader.py's input
    (TorchvisionNormalize, the image and its mirror): zero padding to crop_size after
    normalisation, logits cropped to ceil(size / 4), flip-averaged, sigmoid."""
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    normal = ((image / 255.0 - mean) / std).astype(np.float32).transpose(2, 0, 1)
    x = torch.from_numpy(np.stack([normal, normal[..., ::-1].copy()]))
    height, width = image.shape[:2]
    feat = ((height - 1) // 4 + 1, (width - 1) // 4 + 1)
    x = torch.nn.functional.pad(x, [0, crop_size - width, 0, crop_size - height])
    with torch.no_grad():
        edge = model.boundary_logits(x)[:, 0, :feat[0], :feat[1]]
    return torch.sigmoid(edge[0] / 2 + edge[1].flip(-1) / 2)


def test_image_boundary_pads_to_the_crop_as_the_authors():
    torch.manual_seed(0)
    model = tiny_affinity_net(infer_pad_size=(64, 64))
    image = np.random.default_rng(0).integers(0, 256, (21, 27, 3)).astype(np.uint8)
    expected = authors_edge(model, image, 64)
    torch.testing.assert_close(image_boundary(model, image), expected, atol=1e-5, rtol=1e-4)
    model.infer_pad_size = None                        # the option: the pad divisor only
    assert not torch.allclose(image_boundary(model, image), expected, atol=1e-3)
    # default: the authors' 512 crop; a side longer than it keeps its (divisor) size
    assert tiny_affinity_net().infer_pad_size == (512, 512)
    model.infer_pad_size = (64, 64)
    assert model.pad_for_inference(torch.zeros(2, 3, 80, 48)).shape == (2, 3, 80, 64)


# ------------------------------------------------------------------ item 5: seed CRF labels
def authors_crf(image, labels, n_labels):
    """misc/imutils.py L156-170 (crf_inference_label)."""
    import pydensecrf.densecrf as dcrf
    from pydensecrf.utils import unary_from_labels
    height, width = image.shape[:2]
    crf = dcrf.DenseCRF2D(width, height, n_labels)
    crf.setUnaryEnergy(unary_from_labels(labels, n_labels, gt_prob=0.7, zero_unsure=False))
    crf.addPairwiseGaussian(sxy=3, compat=3)
    crf.addPairwiseBilateral(sxy=50, srgb=5, rgbim=np.ascontiguousarray(image), compat=10)
    return np.argmax(np.array(crf.inference(10)).reshape(n_labels, height, width), axis=0)


def authors_ir_label(image, cams, classes, fg=0.30, bg=0.05):
    """step/cam_to_ir_label.py L23-40."""
    keys = np.pad(classes + 1, (1, 0), mode='constant')
    labels = []
    for threshold in (fg, bg):
        scores = np.pad(cams, ((1, 0), (0, 0), (0, 0)), constant_values=threshold)
        labels.append(keys[authors_crf(image, scores.argmax(axis=0), keys.shape[0])])
    fg_conf, bg_conf = labels
    conf = fg_conf.copy()
    conf[fg_conf == 0] = 255
    conf[bg_conf + fg_conf == 0] = 0
    return conf.astype(np.uint8)


def test_seed_label_against_the_authors_cam_to_ir_label():
    rng = np.random.default_rng(21)
    image = rng.integers(0, 256, (20, 20, 3)).astype(np.uint8)
    maps = np.stack([rng.random((20, 20)) * 0.6,      # class 2: above 0.30 in places
                     rng.random((20, 20)) * 0.2]).astype(np.float32)  # 7: never above 0.30
    classes = np.array([2, 7])
    expected = authors_ir_label(image, maps, classes)
    np.testing.assert_array_equal(IRNSeedLabelGenerator()(maps, classes, image=image),
                                  expected)
    present = IRNSeedLabelGenerator(crf_labels='present')(maps, classes, image=image)
    assert (present != expected).sum() > 0             # the option: another CRF
    with pytest.raises(ValueError, match='crf_labels'):
        make_seed_label(maps, classes, image, crf_labels='all')


# ------------------------------------------------------------------ walked maps -> labels
def test_walk_labels_against_the_authors_make_sem_seg_labels():
    """step/make_sem_seg_labels.py L43-49: upsampling by scale factor 4, cropped to the
    image, divided by the global maximum, background 0.25 in front, argmax, class keys."""
    rng = np.random.default_rng(5)
    walked = torch.from_numpy(rng.random((2, 4, 5)).astype(np.float32))
    walked[1, :2] *= 0.2
    classes, size = np.array([4, 9]), (14, 19)
    up = torch.nn.functional.interpolate(walked[:, None], scale_factor=4, mode='bilinear',
                                         align_corners=False)[..., 0, :size[0], :size[1]]
    up = up / torch.max(up)
    scores = torch.nn.functional.pad(up, (0, 0, 0, 0, 1, 0), value=0.25)
    keys = np.pad(classes + 1, (1, 0), mode='constant')
    expected = keys[torch.argmax(scores, dim=0).numpy()]
    assert len(np.unique(expected)) == 3
    ours = random_walk_label(None, None, classes, size, stride=4, bg_threshold=0.25,
                             walked=walked)
    np.testing.assert_array_equal(ours, expected)
