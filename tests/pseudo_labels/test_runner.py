"""Stage-2 runner: outputs, resumability, atomic writes, multiprocessing, ranks, errors."""
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

import wsss_toolbox.pseudo_labels.runner as runner_module
from wsss_toolbox.maps import load_maps
from wsss_toolbox.pseudo_labels import (
    ThresholdLabelGenerator,
    generate_pseudo_labels,
    load_label,
    load_rgb_image,
    load_saliency,
    make_sample_pseudo_label,
)
from wsss_toolbox.pseudo_labels.label_io import LABELLED_IMAGES_FILE, read_labelled_images

from .stage2_data import write_stage2_data

SALIENCY_CRF = dict(generator=dict(type='SaliencyLabelGenerator'),
                    refiners=[dict(type='DenseCRFRefiner', iterations=3)])


@pytest.fixture
def stage2(tmp_path):
    samples = write_stage2_data(str(tmp_path / 'data'))
    return samples, str(tmp_path / 'data' / 'maps'), str(tmp_path / 'labels')


def read_all(out_dir: str, samples) -> dict:
    return {s['img_id']: load_label(osp.join(out_dir, s['img_id'] + '.png')) for s in samples}


def test_writes_single_channel_pngs_equal_to_direct_call(stage2):
    samples, map_dir, out_dir = stage2
    summary = generate_pseudo_labels(samples, map_dir, out_dir,
                                     dict(type='ThresholdLabelGenerator', bg_threshold=0.5),
                                     progress=False)
    assert summary['num_written'] == len(samples) and summary['num_skipped'] == 0
    assert sorted(os.listdir(out_dir)) == sorted(
        [s['img_id'] + '.png' for s in samples] + [LABELLED_IMAGES_FILE])
    assert read_labelled_images(out_dir) == {s['img_id'] for s in samples}
    for sample in samples:
        path = osp.join(out_dir, sample['img_id'] + '.png')
        with Image.open(path) as png:
            assert png.mode == 'L'
        expected = make_sample_pseudo_label(sample, map_dir, ThresholdLabelGenerator(0.5))
        np.testing.assert_array_equal(load_label(path), expected)
    # the synthetic maps are good: most GT-foreground pixels get their class
    first = samples[0]
    gt = load_label(first['seg_map_path'])
    label = load_label(osp.join(out_dir, first['img_id'] + '.png'))
    foreground = (gt > 0) & (gt < 255)
    assert (label[foreground] == gt[foreground]).mean() > 0.8


def test_existing_labels_are_skipped_unless_overwrite(stage2):
    samples, map_dir, out_dir = stage2
    os.makedirs(out_dir)
    sentinel = np.full((24, 32), 7, np.uint8)
    Image.fromarray(sentinel).save(osp.join(out_dir, 'img01.png'))
    generator = dict(type='ThresholdLabelGenerator')
    summary = generate_pseudo_labels(samples, map_dir, out_dir, generator, progress=False)
    assert summary['num_skipped'] == 1 and summary['num_written'] == len(samples) - 1
    np.testing.assert_array_equal(load_label(osp.join(out_dir, 'img01.png')), sentinel)
    summary = generate_pseudo_labels(samples, map_dir, out_dir, generator, progress=False)
    assert summary['num_written'] == 0 and summary['num_skipped'] == len(samples)
    summary = generate_pseudo_labels(samples, map_dir, out_dir, generator, overwrite=True,
                                     progress=False)
    assert summary['num_written'] == len(samples)
    assert not (load_label(osp.join(out_dir, 'img01.png')) == 7).all()


def test_crash_mid_write_leaves_no_partial_png(stage2, monkeypatch):
    samples, map_dir, out_dir = stage2
    real_fsync = os.fsync
    calls = []

    def crash_on_third_label(fd):  # the first file written is the list of labelled images
        calls.append(fd)
        if len(calls) == 4:
            raise OSError('simulated crash while writing')
        real_fsync(fd)

    monkeypatch.setattr(os, 'fsync', crash_on_third_label)
    with pytest.raises(OSError, match='simulated crash'):
        generate_pseudo_labels(samples, map_dir, out_dir, dict(type='ThresholdLabelGenerator'),
                               progress=False)
    monkeypatch.undo()
    # the two finished labels exist; the third was being written: no file, no temp left over
    assert sorted(os.listdir(out_dir)) == ['img00.png', 'img01.png', LABELLED_IMAGES_FILE]
    summary = generate_pseudo_labels(samples, map_dir, out_dir,
                                     dict(type='ThresholdLabelGenerator'), progress=False)
    assert summary['num_skipped'] == 2 and summary['num_written'] == len(samples) - 2


def test_two_processes_give_identical_outputs(stage2, tmp_path):
    samples, map_dir, _ = stage2
    one, two = str(tmp_path / 'one'), str(tmp_path / 'two')
    generate_pseudo_labels(samples, map_dir, one, nproc=1, progress=False, **SALIENCY_CRF)
    summary = generate_pseudo_labels(samples, map_dir, two, nproc=2, progress=True,
                                     **SALIENCY_CRF)
    assert summary['num_written'] == len(samples)
    first, second = read_all(one, samples), read_all(two, samples)
    for img_id in first:
        np.testing.assert_array_equal(first[img_id], second[img_id])
    assert any((label == 255).any() for label in first.values())  # the saliency rules ran


def test_missing_map_file_is_a_clear_error(stage2):
    samples, map_dir, out_dir = stage2
    os.remove(osp.join(map_dir, 'img03.npz'))
    with pytest.raises(FileNotFoundError, match=r'img03\.npz'):
        generate_pseudo_labels(samples, map_dir, out_dir, dict(type='ThresholdLabelGenerator'),
                               progress=False)
    with pytest.raises(FileNotFoundError, match=r'img03\.npz'):
        generate_pseudo_labels(samples, map_dir, out_dir, dict(type='ThresholdLabelGenerator'),
                               nproc=2, progress=False)


def test_missing_saliency_path_is_a_clear_error(stage2):
    samples, map_dir, out_dir = stage2
    samples = [dict(sample, saliency_path=None) for sample in samples]
    with pytest.raises(ValueError, match='needs saliency.*img00'):
        generate_pseudo_labels(samples, map_dir, out_dir,
                               dict(type='SaliencyLabelGenerator'), progress=False)


def test_each_rank_takes_its_share(stage2, monkeypatch):
    samples, map_dir, out_dir = stage2
    monkeypatch.setattr(runner_module, 'get_dist_info', lambda: (1, 2))
    monkeypatch.setattr(runner_module, 'all_gather_object', lambda summary: [summary] * 2)
    summary = generate_pseudo_labels(samples, map_dir, out_dir,
                                     dict(type='ThresholdLabelGenerator'), progress=False)
    assert sorted(os.listdir(out_dir)) == ['img01.png', 'img03.png', 'img05.png']
    assert summary['world_size'] == 2 and summary['num_written'] == 6  # 3 per rank, summed


def test_callables_and_output_checks(stage2):
    samples, map_dir, out_dir = stage2

    def bad_refiner(label, image):
        return label.astype(np.int32)

    with pytest.raises(ValueError, match='expected a uint8 mask'):
        generate_pseudo_labels(samples[:1], map_dir, out_dir, ThresholdLabelGenerator(),
                               refiners=[bad_refiner], progress=False)


# ------------------------------------------------------------------ bad inputs name the file
def test_a_bad_map_file_stops_the_run_and_keeps_what_was_written(stage2):
    samples, map_dir, out_dir = stage2
    path = osp.join(map_dir, 'img02.npz')
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    arrays['maps'] = arrays['maps'].copy()
    arrays['maps'][0, 0, 0] = np.inf  # before: one inf pixel wiped the class map, exit 0
    np.savez_compressed(path, **arrays)
    with pytest.raises(ValueError, match=r'img02\.npz": maps contain 1 inf value'):
        generate_pseudo_labels(samples, map_dir, out_dir, dict(type='ThresholdLabelGenerator'),
                               progress=False)
    assert sorted(name for name in os.listdir(out_dir) if name.endswith('.png')) == [
        'img00.png', 'img01.png']  # the labels made before it are complete and kept


def test_maps_of_a_class_the_image_is_not_tagged_with(stage2):
    samples, map_dir, _ = stage2
    sample = samples[1]  # its map file holds two classes
    classes = load_maps(osp.join(map_dir, 'img01.npz'))['classes']
    gt_label = np.zeros(3, np.float32)
    gt_label[classes[0]] = 1
    with pytest.raises(ValueError, match=rf'img01\.npz" holds maps of class\(es\) '
                                         rf'\[{classes[1]}\], but image "img01" is tagged only '
                                         rf'with \[{classes[0]}\]'):
        make_sample_pseudo_label(dict(sample, gt_label=gt_label), map_dir,
                                 ThresholdLabelGenerator())


def test_an_undecodable_image_is_named_with_densecrf(stage2):
    samples, map_dir, out_dir = stage2
    with open(samples[1]['img_path'], 'wb') as f:
        f.write(b'\xff\xd8 truncated jpeg')  # before: cv2.error ... !_src.empty()
    with pytest.raises(OSError, match=r'Image file ".*img01\.jpg" cannot be decoded: it is '
                                      r'empty, truncated or not an image \(cv2\.error\)'):
        generate_pseudo_labels(samples, map_dir, out_dir, dict(type='ThresholdLabelGenerator'),
                               refiners=[dict(type='DenseCRFRefiner', iterations=1)],
                               progress=False)


def test_a_missing_saliency_file_is_named(stage2):
    samples, map_dir, out_dir = stage2
    os.remove(samples[2]['saliency_path'])
    # before: "... has no `saliency_path`; set the saliency folder of the dataset"
    with pytest.raises(FileNotFoundError, match=r'Saliency map file ".*saliency/img02\.png" '
                                                r'does not exist'):
        generate_pseudo_labels(samples, map_dir, out_dir, dict(type='SaliencyLabelGenerator'),
                               progress=False)


@pytest.mark.parametrize('reader, what', [(load_label, 'Label mask'),
                                          (load_saliency, 'Saliency map'),
                                          (load_rgb_image, 'Image')])
def test_undecodable_files_are_named(tmp_path, reader, what):
    path = tmp_path / 'broken.png'
    path.write_bytes(b'\x89PNG not really')
    with pytest.raises(OSError, match=rf'{what} file ".*broken\.png" cannot be decoded'):
        reader(str(path))
