"""Masks painted through mmseg's visualizer in the dataset's palette; the stage-1 visualizer;
the pipeline figure."""

import mmcv
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.datasets import BaseSegDataset
from mmseg.utils import get_classes, get_palette

from wsss_toolbox.maps.io import map_path, save_maps
from wsss_toolbox.pseudo_labels import save_label
from wsss_toolbox.structures import WSSSDataSample
from wsss_toolbox.visualization import (
    MapLocalVisualizer,
    legend_entries,
    mask_meta,
    pipeline_figure,
    save_pipeline_figure,
)

VOC_FOREGROUND = tuple(get_classes('voc')[1:])


def test_voc_classes_get_the_voc_palette():
    for classes in (VOC_FOREGROUND, ('background', ) + VOC_FOREGROUND):  # stage 1 / stage 3
        meta = mask_meta(dict(classes=classes))
        assert meta['classes'] == list(get_classes('voc'))
        assert meta['palette'] == [list(colour) for colour in get_palette('voc')]


def test_a_dataset_palette_wins_and_others_get_mmseg_generated_colours():
    classes = ('background', 'cat', 'dog')
    own = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert mask_meta(dict(classes=classes, palette=own))['palette'] == own
    assert mask_meta(dict(classes=classes), palette=own[::-1])['palette'] == own[::-1]
    # no palette: what mmseg's BaseSegDataset (hence a stage-3 dataset) gives the foreground
    # classes, and a black background (mmseg's random first colour read as a class)
    generated = BaseSegDataset(metainfo=dict(classes=classes), lazy_init=True)
    palette = mask_meta(dict(classes=classes[1:]))['palette']
    assert palette[1:] == generated.metainfo['palette'][1:]
    assert palette[0] == [0, 0, 0]
    assert mask_meta(num_classes=3)['palette'][0] == [0, 0, 0]
    assert mask_meta(num_classes=3)['classes'] == ['background', '1', '2']
    with pytest.raises(ValueError, match='num_classes=4'):
        mask_meta(dict(classes=classes), num_classes=4)


def test_draw_mask_paints_palette_colours_and_white_ignore():
    visualizer = MapLocalVisualizer(name='test_draw_mask')
    mask = np.array([[0, 1, 2], [255, 2, 1]], np.uint8)
    palette = [[10, 20, 30], [40, 50, 60], [70, 80, 90]]
    painted = visualizer.draw_mask(mask, num_classes=3, palette=palette, alpha=1.0)
    expected = np.array([[palette[0], palette[1], palette[2]],
                         [[255, 255, 255], palette[2], palette[1]]], np.uint8)
    np.testing.assert_array_equal(painted, expected)
    # over an image with the visualizer's opacity (mmseg: image * (1 - a) + colour * a); the
    # background pixels keep the image's colours
    image = np.full((2, 3, 3), 100, np.uint8)
    over = MapLocalVisualizer(name='test_draw_mask_alpha', alpha=0.5).draw_mask(
        mask, image, num_classes=3, palette=palette)
    np.testing.assert_array_equal(over[0, 0], [100, 100, 100])
    np.testing.assert_array_equal(over[0, 1], [70, 75, 80])
    opaque = MapLocalVisualizer(name='test_draw_mask_opaque', alpha=0.5).draw_mask(
        mask, image, num_classes=3, palette=palette, transparent_background=False)
    np.testing.assert_array_equal(opaque[0, 0], [55, 60, 65])


def test_legend_lists_the_classes_present():
    meta = mask_meta(dict(classes=('cat', 'dog', 'cow')))
    masks = [np.array([[0, 2], [2, 0]], np.uint8), np.array([[255, 0]], np.uint8)]
    assert legend_entries(masks, meta) == [('background', (0, 0, 0)),
                                           ('dog', tuple(meta['palette'][2])),
                                           ('ignore', (255, 255, 255))]


def _classifier_sample(size=(24, 32)):
    sample = WSSSDataSample(metainfo=dict(img_path='x.jpg', ori_shape=size, img_shape=size))
    sample.gt_label = torch.tensor([0., 1., 0., 1.])
    sample.pred_scores = torch.tensor([0.9, 0.8, 0.1, 0.3])
    sample.pred_maps = torch.rand(4, *size)
    mask = torch.zeros(1, *size, dtype=torch.int64)
    mask[:, 5:10, 5:10] = 2
    sample.gt_sem_seg = PixelData(data=mask)
    return sample


def test_map_visualizer_paints_image_mask_and_a_map_per_class(tmp_path):
    visualizer = MapLocalVisualizer(name='test_map_visualizer')
    visualizer.dataset_meta = dict(classes=('a', 'b', 'c', 'd'))  # what the test loop sets
    sample = _classifier_sample()
    image = np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    out_file = str(tmp_path / 'painted.png')
    visualizer.add_datasample('x', image, sample, out_file=out_file)
    painted = mmcv.imread(out_file, channel_order='rgb')
    # image | ground truth | maps of the labelled classes (b: 0.8, d: 0.3)
    assert painted.shape == (24, 4 * 32, 3)
    np.testing.assert_array_equal(painted[:, :32], image)
    assert visualizer.image_classes(sample) == [1, 3]

    # an unlabelled image: the classes scored >= score_thr, best first
    del sample.gt_label
    assert visualizer.image_classes(sample) == [0, 1]
    visualizer.score_thr = 0.95
    assert visualizer.image_classes(sample) == [0]  # at least the best one
    visualizer.add_datasample('x', image, sample, draw_gt=False, out_file=out_file)
    assert mmcv.imread(out_file).shape == (24, 2 * 32, 3)


def _figure_inputs(tmp_path, size=(16, 20), label_dir='labels'):
    samples = []
    for img_id in ('a', 'b'):
        image_path = str(tmp_path / 'img' / f'{img_id}.png')
        mmcv.imwrite(np.zeros(size + (3, ), np.uint8), image_path)
        gt = np.zeros(size, np.uint8)
        gt[4:8, 4:8] = 1
        gt_path = str(tmp_path / 'gt' / f'{img_id}.png')
        mmcv.imwrite(gt, gt_path)
        save_label(str(tmp_path / label_dir / f'{img_id}.png'), gt)
        save_maps(map_path(str(tmp_path / 'maps'), img_id), img_id, np.array([0]),
                  np.ones((1, ) + size, np.float32))
        samples.append(dict(img_id=img_id, img_path=image_path, seg_map_path=gt_path))
    return samples


@pytest.mark.parametrize('side', [64, 512])
def test_figure_titles_do_not_overlap_and_grow_with_the_image(tmp_path, side):
    # long label-folder names, as method pipelines give them
    label_dir = 'pseudo_labels_crf_refined_with_random_walk'
    samples = _figure_inputs(tmp_path, (side, side), label_dir)
    fig = pipeline_figure(samples, str(tmp_path / 'maps'),
                          [str(tmp_path / label_dir)] * 2, 2, dict(classes=('cat', )))
    renderer = fig.canvas.get_renderer()
    boxes = [axis.title.get_window_extent(renderer) for axis in fig.axes[:4]]
    assert all(box.width > 0 for box in boxes)
    for left, right in zip(boxes, boxes[1:]):
        assert left.x1 < right.x0, (left, right)
    axes = [axis.get_window_extent(renderer) for axis in fig.axes[:4]]
    for title, axis in zip(boxes, axes):  # each title within its panel's width
        assert axis.x0 - 0.1 * axis.width <= title.x0 and title.x1 <= axis.x1 + 0.1 * axis.width
    fontsize = fig.axes[0].title.get_fontsize()
    assert fontsize >= 8 and (side < 512 or fontsize >= 11)
    # the legend names the classes in the masks, in their colours
    legend = fig.legends[0]
    assert [text.get_text() for text in legend.get_texts()] == ['background', 'cat']
    colours = [tuple(np.round(255 * np.array(patch.get_facecolor()[:3])).astype(int))
               for patch in legend.get_patches()]
    assert colours == [(0, 0, 0), tuple(mask_meta(dict(classes=('cat', )))['palette'][1])]


def test_pipeline_figure_with_and_without_dataset_meta(tmp_path):
    samples = _figure_inputs(tmp_path)
    # the pipeline's call before the dataset_meta argument existed still works
    first = save_pipeline_figure(samples, str(tmp_path / 'maps'), [str(tmp_path / 'labels')],
                                 2, str(tmp_path / 'plain.png'))
    second = save_pipeline_figure(samples, str(tmp_path / 'maps'), [str(tmp_path / 'labels')],
                                  2, str(tmp_path / 'named.png'),
                                  dataset_meta=dict(classes=('cat', )))
    plain, named = mmcv.imread(first), mmcv.imread(second)
    # two rows of five panels (image, ground truth, map, labels), painted, not blank
    assert plain.shape == named.shape and plain.shape[1] > plain.shape[0] > plain.shape[1] / 4
    for figure in (plain, named):
        assert (figure < 250).any(axis=2).mean() > 0.05
