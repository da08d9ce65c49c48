"""8-bit map files: ``save_maps(..., dtype='uint8')``, read back by ``load_maps`` as float32,
selected by ``infer_maps(map_dtype=)``, the ``InferMaps`` step and ``tools/infer_maps.py``."""
import functools
import os.path as osp
import sys

import mmcv
import numpy as np
import pytest
from conftest import REPO_ROOT
from mmengine.config import Config

from wsss_toolbox.maps.inference import infer_maps
from wsss_toolbox.maps.io import MAP_DTYPES, load_maps, map_path, save_maps

from .test_inference import RedChannelModel, ramp_image


def smooth_maps(num_classes=2, height=48, width=64, seed=0):
    """Blobs in [0, 1] with a little noise, as normalised CAMs look."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    maps = []
    for _ in range(num_classes):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (height / 4) ** 2))
        maps.append(blob + rng.normal(0, 0.01, blob.shape))
    maps = np.clip(np.stack(maps), 0, None)
    return (maps / maps.max(axis=(1, 2), keepdims=True)).astype(np.float32)


def test_uint8_round_trip_within_half_a_step(tmp_path):
    maps = smooth_maps()
    strided = maps[:, ::4, ::4]
    path = map_path(str(tmp_path), 'a')
    save_maps(path, 'a', [3, 7], maps, strided_maps=strided, stride=4, dtype='uint8')
    with np.load(path) as data:  # stored as round(map * 255)
        assert data['maps'].dtype == np.uint8 and data['strided_maps'].dtype == np.uint8
        np.testing.assert_array_equal(data['maps'], np.rint(maps * 255).astype(np.uint8))
    record = load_maps(path, img_id='a', tags=[3, 7])
    assert record['maps'].dtype == np.float32 and record['strided_maps'].dtype == np.float32
    assert np.abs(record['maps'] - maps).max() <= 0.5 / 255 + 1e-6
    assert np.abs(record['strided_maps'] - strided).max() <= 0.5 / 255 + 1e-6
    assert record['maps'].max() == 1.0 and record['maps'].min() >= 0
    assert record['classes'].tolist() == [3, 7] and record['stride'] == 4


def test_float16_stays_the_default(tmp_path):
    path = map_path(str(tmp_path), 'a')
    save_maps(path, 'a', [0], smooth_maps(1))
    with np.load(path) as data:
        assert data['maps'].dtype == np.float16
    assert MAP_DTYPES == ('float16', 'uint8')


def test_uint8_file_is_smaller(tmp_path):
    maps = smooth_maps(3, 96, 128)
    sizes = {}
    for dtype in MAP_DTYPES:
        path = map_path(str(tmp_path / dtype), 'a')
        save_maps(path, 'a', [0, 1, 2], maps, dtype=dtype)
        sizes[dtype] = osp.getsize(path)
    assert sizes['uint8'] <= sizes['float16'] / 2, sizes


def test_unknown_dtype_names_the_file(tmp_path):
    path = map_path(str(tmp_path), 'a')
    with pytest.raises(ValueError, match=r'save_maps\(".*a\.npz"\): dtype must be one of'):
        save_maps(path, 'a', [0], smooth_maps(1), dtype='int8')
    assert not osp.exists(path)


def write_samples(tmp_path, count=2):
    samples = []
    for index in range(count):
        path = str(tmp_path / f'img{index}.png')
        mmcv.imwrite(ramp_image(), path)
        samples.append(dict(img_id=f'img{index}', img_path=path,
                            gt_label=np.array([1, 0, 0], np.float32)))
    return samples


def test_infer_maps_writes_8_bit_maps_and_reports_bytes(tmp_path):
    samples = write_samples(tmp_path)
    results = {}
    for dtype in MAP_DTYPES:
        out_dir = str(tmp_path / dtype)
        counts = infer_maps(RedChannelModel(), samples, out_dir, stride=2, map_dtype=dtype,
                            progress=False)
        sizes = [osp.getsize(map_path(out_dir, sample['img_id'])) for sample in samples]
        assert counts['bytes_per_image'] == pytest.approx(np.mean(sizes))
        with np.load(map_path(out_dir, 'img0')) as data:
            assert data['maps'].dtype == np.dtype(dtype)
            assert data['strided_maps'].dtype == np.dtype(dtype)
        results[dtype] = load_maps(map_path(out_dir, 'img0'))
    assert np.abs(results['uint8']['maps'] - results['float16']['maps']).max() <= 1 / 255
    with pytest.raises(ValueError, match="map_dtype must be one of"):
        infer_maps(RedChannelModel(), samples, str(tmp_path / 'x'), map_dtype='float32')


def test_infer_maps_step_option(monkeypatch):
    from wsss_toolbox.pipeline import InferMaps
    classifier = type('Classifier', (), {'stage_config': lambda self: Config(dict(
        map_inference=dict(scales=(1.0, ), map_dtype='uint8')))})()
    step = InferMaps('maps', None)
    monkeypatch.setattr(step, 'classifier', lambda: classifier)
    assert step.inference_options()['map_dtype'] == 'uint8'  # from the config
    step = InferMaps('maps', None, map_dtype='float16')
    monkeypatch.setattr(step, 'classifier', lambda: classifier)
    assert step.inference_options()['map_dtype'] == 'float16'  # the step's option wins
    with pytest.raises(ValueError, match="step maps: map_dtype must be one of"):
        InferMaps('maps', None, map_dtype='half')


def test_infer_maps_tool_option(monkeypatch, tmp_path):
    sys.path.insert(0, osp.join(REPO_ROOT, 'tools'))
    try:
        import infer_maps as tool
    finally:
        sys.path.pop(0)
    seen = {}

    @functools.wraps(infer_maps)  # the tool checks config keys against its signature
    def fake_infer_maps(model, samples, out_dir, overwrite=False, **options):
        seen.update(options)
        return dict(written=0, skipped=0, empty=0, bytes_per_image=0.0, warnings=[])

    monkeypatch.setattr(tool, 'load_config', lambda path: Config(dict(
        model=dict(), train_dataloader=dict(dataset=dict()),
        map_inference=dict(map_dtype='float16'))))
    monkeypatch.setattr(tool, 'samples_from_dataset_cfg', lambda cfg: ([], None))
    monkeypatch.setattr(tool, 'MODELS', type('Models', (), {'build': staticmethod(
        lambda cfg: None)}))
    monkeypatch.setattr(tool, 'load_model_checkpoint', lambda *args, **kwargs: None)
    monkeypatch.setattr(tool, 'infer_maps', fake_infer_maps)
    monkeypatch.setattr(tool, 'register_all_modules', lambda **kwargs: None)
    tool.main(['c.py', 'w.pth', '--out-dir', str(tmp_path)])
    assert seen['map_dtype'] == 'float16'  # the config's map_inference key
    tool.main(['c.py', 'w.pth', '--out-dir', str(tmp_path), '--map-dtype', 'uint8'])
    assert seen['map_dtype'] == 'uint8'  # the option overrides it


def test_benchmark_script_runs(tmp_path, monkeypatch, capsys):
    import runpy
    script = osp.join(REPO_ROOT, 'tools', 'analysis', 'benchmark_map_dtype.py')
    monkeypatch.setattr(sys, 'argv', [script, '--work-dir', str(tmp_path), '--num-images', '4',
                                      '--image-size', '48', '--stride', '4'])
    runpy.run_path(script, run_name='__main__')
    out = capsys.readouterr().out
    assert 'map files of 4 images of 48x48, strided maps at stride 4' in out
    assert 'threshold 0.3 + DenseCRF' in out and 'uint8' in out
