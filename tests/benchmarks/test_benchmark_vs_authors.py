"""Each authors'-mechanism baseline of tools/analysis/benchmark_vs_authors.py and its toolbox
counterpart give the same outputs on tiny data (so the benchmark's ratios compare like with
like), and the batched map inference equals one forward per view."""
import importlib.util
import os.path as osp
import sys

import mmcv
import numpy as np
import pytest
import torch
from tiny_benchmark import write_tiny_benchmark

from wsss_toolbox.maps import load_maps, map_path
from wsss_toolbox.maps.inference import _size_batches, infer_maps
from wsss_toolbox.methods.oaa.store import CumulativeMapStore

SCRIPT = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'analysis',
                  'benchmark_vs_authors.py')


@pytest.fixture(scope='module')
def bench():
    spec = importlib.util.spec_from_file_location('benchmark_vs_authors', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its pool jobs are pickled by module name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def tiny(tmp_path_factory, bench):
    """Tiny benchmark (32x32 images, 3 classes) + two larger images of another size, the
    tiny CAM model with seeded random weights, and its samples."""
    from wsss_toolbox.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    root = write_tiny_benchmark(str(tmp_path_factory.mktemp('tiny')), num_train=6)
    samples = [s for s in bench.benchmark_samples(root, 0) if s['img_id'].startswith('train')]
    for index, sample in enumerate(samples[:2]):  # another size within the same chunk
        image = mmcv.imread(sample['img_path'])
        path = osp.join(root, f'wide{index}.png')
        mmcv.imwrite(mmcv.imresize(image, (48, 24)), path)
        samples.append(dict(sample, img_id=f'wide{index}', img_path=path))
    model = bench.build_model('configs/cam/cam_tiny_1xb16-8e_synthetic-128x128.py', None, 0,
                              num_classes=len(samples[0]['gt_label']))
    return dict(root=root, samples=samples, model=model)


def _max_map_difference(samples, dir_a, dir_b):
    worst = 0.0
    for sample in samples:
        a, b = (load_maps(map_path(d, sample['img_id'])) for d in (dir_a, dir_b))
        assert a['classes'].tolist() == b['classes'].tolist()
        worst = max(worst, float(np.abs(a['maps'].astype(np.float32)
                                        - b['maps'].astype(np.float32)).max(initial=0)))
    return worst


def test_oaa_png_files_equal_the_batched_store(tmp_path, bench):
    batches = bench.oaa_visits(num_images=12, epochs=3, batch_size=4, feature_shape=(5, 7),
                               seed=1)
    result = bench.run_oaa(batches, str(tmp_path / 'png'))
    assert result['difference'] == 0 and result['maps'] > 0
    # the comparison itself notices a changed map
    store = CumulativeMapStore()
    for batch in batches:
        store.apply_batch(batch)
    png = bench.PNGAccumulator(str(tmp_path / 'png'))
    img_id = store.img_ids()[0]
    cls = int(store.classes(img_id)[store.counts(img_id) > 0][0])
    png.update(img_id, cls, np.full((5, 7), 255, np.uint8))
    assert bench.store_png_difference(store, png) > 0


def test_irn_style_map_inference_equals_batched_infer_maps(tmp_path, bench, tiny):
    samples, model = tiny['samples'], tiny['model']
    scales = (1.0, 0.5, 1.5)
    bench.irn_style_infer_maps(model, samples, str(tmp_path / 'irn'), scales)
    bench.irn_style_infer_maps(model, samples, str(tmp_path / 'pairs'), scales,
                               flip_in_batch=True)
    infer_maps(model, samples, str(tmp_path / 'ours'), scales, True, 'mean')
    # a small pixel budget: several forwards per size
    infer_maps(model, samples, str(tmp_path / 'small'), scales, True, 'mean',
               batch_pixels=3 * 32 * 32)
    infer_maps(model, samples, str(tmp_path / 'one'), scales, True, 'mean', batch_images=1)
    for other in ('pairs', 'ours', 'small', 'one'):
        assert _max_map_difference(samples, str(tmp_path / 'irn'),
                                   str(tmp_path / other)) <= 2e-3, other
    # and the comparison notices a different model
    torch.manual_seed(1)
    changed = bench.build_model('configs/cam/cam_tiny_1xb16-8e_synthetic-128x128.py', None, 1,
                                num_classes=len(samples[0]['gt_label']))
    infer_maps(changed, samples, str(tmp_path / 'changed'), scales, True, 'mean')
    assert _max_map_difference(samples, str(tmp_path / 'irn'), str(tmp_path / 'changed')) > 0.05


def test_views_of_one_size_share_forwards():
    shapes = [(8, 8), (4, 4), (8, 8), (8, 8), (4, 4), (6, 4)]
    assert _size_batches(shapes, 10**6) == [[0, 2, 3], [1, 4], [5]]
    assert _size_batches(shapes, 2 * 64) == [[0, 2], [3], [1, 4], [5]]
    assert _size_batches(shapes, 1) == [[0], [2], [3], [1], [4], [5]]


def test_batched_inference_runs_fewer_forwards(tmp_path, tiny):
    samples, model = tiny['samples'], tiny['model']
    calls = []
    original = model.test_step

    def counting(data):
        calls.append(len(data['inputs']))
        return original(data)

    model.test_step = counting
    try:
        infer_maps(model, samples, str(tmp_path / 'maps'), (1.0, 0.5), True, 'mean')
    finally:
        del model.test_step
    # 8 images (6 of 32x32, 2 of 24x48), 4 views each: one forward per view size per chunk
    assert sum(calls) == 4 * len(samples) and len(calls) == 4


@pytest.mark.parametrize('nproc', [1, 2])
def test_irn_style_labels_equal_the_runner(tmp_path, bench, tiny, nproc):
    samples = tiny['samples']
    map_dir = str(tmp_path / 'maps')
    infer_maps(tiny['model'], samples, map_dir, (1.0, ), True, 'mean')
    bench.irn_style_pseudo_labels(samples, map_dir, str(tmp_path / 'irn'), nproc)
    bench.toolbox_pseudo_labels(samples, map_dir, str(tmp_path / 'ours'), nproc)
    assert bench.label_difference(samples, str(tmp_path / 'irn'), str(tmp_path / 'ours')) == 0
    # not a vacuous comparison: the labels hold foreground and background
    labels = np.stack([mmcv.imread(str(tmp_path / 'ours' / f'{s["img_id"]}.png'),
                                   flag='unchanged') for s in samples[:6]])
    assert (labels == 0).any() and (labels > 0).any()


def test_mixed_precision_maps_stay_close_to_the_irn_style_loop(tmp_path, bench, tiny):
    """amp=True (bfloat16 on the CPU) changes the maps by about 1 % of their peak: within
    the tolerance the benchmark reports, and not bit-identical (it did take effect)."""
    samples, model = tiny['samples'], tiny['model']
    scales = (1.0, 0.5, 1.5)
    bench.irn_style_infer_maps(model, samples, str(tmp_path / 'irn'), scales)
    infer_maps(model, samples, str(tmp_path / 'amp'), scales, True, 'mean', amp=True)
    difference = _max_map_difference(samples, str(tmp_path / 'irn'), str(tmp_path / 'amp'))
    assert 0 < difference <= bench.AMP_MAP_TOLERANCE
    assert not torch.is_autocast_enabled('cpu')  # the context was left


def test_device_option_is_checked(bench):
    bench.check_device('cpu', [1, 2])
    with pytest.raises(SystemExit, match="'cpu' or 'cuda"):
        bench.check_device('tpu', [1])
    if torch.cuda.is_available():
        with pytest.raises(SystemExit, match='--nprocs 1'):
            bench.check_device('cuda', [1, 2])
    else:
        with pytest.raises(SystemExit, match='no CUDA device'):
            bench.check_device('cuda', [1])
