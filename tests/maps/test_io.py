"""Map files: round trip, shape/range checks, clear errors, atomic writes."""
import errno
import os
import re

import numpy as np
import pytest

import wsss_toolbox.maps.io as map_io
from wsss_toolbox.maps import load_maps, map_path, save_maps


def test_round_trip_keeps_ids_classes_and_values(tmp_path):
    rng = np.random.default_rng(0)
    maps = rng.random((2, 5, 7)).astype(np.float32)
    path = map_path(str(tmp_path), '2007_000032')
    assert path == os.path.join(str(tmp_path), '2007_000032.npz')
    save_maps(path, '2007_000032', np.array([14, 3]), maps)
    record = load_maps(path)
    assert record['img_id'] == '2007_000032'
    assert record['classes'].dtype == np.int64 and record['classes'].tolist() == [14, 3]
    assert record['maps'].dtype == np.float32 and record['maps'].shape == (2, 5, 7)
    np.testing.assert_allclose(record['maps'], maps, atol=1e-3)  # float16 storage
    with np.load(path) as raw:
        assert raw['maps'].dtype == np.float16


def test_image_without_classes_and_nested_ids(tmp_path):
    path = map_path(str(tmp_path), 'sub/dir/img')
    save_maps(path, 'sub/dir/img', np.zeros(0, np.int64), np.zeros((0, 4, 3)))
    record = load_maps(path)
    assert record['maps'].shape == (0, 4, 3) and record['classes'].shape == (0,)


@pytest.mark.parametrize('classes, maps, message', [
    (np.array([1, 2]), np.zeros((3, 4, 4)), '2 classes but 3 maps'),
    (np.array([1]), np.zeros((4, 4)), '3-D'),
    (np.array([-1]), np.zeros((1, 4, 4)), '>= 0'),
    (np.array([1]), np.full((1, 4, 4), 1.5), 'in \\[0, 1\\]'),
    (np.array([1]), np.full((1, 4, 4), np.nan), 'NaN'),
])
def test_save_rejects_bad_input(tmp_path, classes, maps, message):
    path = str(tmp_path / 'a.npz')
    with pytest.raises(ValueError, match=message):
        save_maps(path, 'a', classes, maps)
    assert not os.path.exists(path)


def test_missing_file_error_names_the_file(tmp_path):
    path = str(tmp_path / 'nope.npz')
    with pytest.raises(FileNotFoundError, match='nope.npz'):
        load_maps(path)


def test_corrupt_file_error_names_the_file(tmp_path):
    path = tmp_path / 'broken.npz'
    path.write_bytes(b'PK\x03\x04 this is not a zip archive')
    with pytest.raises(ValueError, match='broken.npz.*corrupt'):
        load_maps(str(path))
    path = tmp_path / 'array.npz'
    with open(path, 'wb') as f:
        np.save(f, np.zeros(3))
    with pytest.raises(ValueError, match='array.npz'):
        load_maps(str(path))


def test_missing_key_error(tmp_path):
    path = str(tmp_path / 'nokey.npz')
    np.savez_compressed(path, img_id=np.array('x'), maps=np.zeros((1, 2, 2), np.float16))
    with pytest.raises(ValueError, match=r"nokey.npz.*\['classes'\]"):
        load_maps(path)


def test_crash_mid_write_leaves_no_file(tmp_path, monkeypatch):
    path = map_path(str(tmp_path), 'img')

    def crash(file, **arrays):
        file.write(b'half of an archive')
        raise RuntimeError('simulated crash')

    monkeypatch.setattr(map_io.np, 'savez_compressed', crash)
    with pytest.raises(RuntimeError, match='simulated crash'):
        save_maps(path, 'img', np.array([0]), np.zeros((1, 3, 3)))
    assert os.listdir(tmp_path) == []  # neither the final name nor a temp file


def test_failed_overwrite_keeps_previous_file(tmp_path, monkeypatch):
    path = map_path(str(tmp_path), 'img')
    save_maps(path, 'img', np.array([0]), np.full((1, 3, 3), 0.5))

    def crash_on_rename(src, dst):
        raise OSError('simulated crash before rename')

    monkeypatch.setattr(map_io.os, 'replace', crash_on_rename)
    with pytest.raises(OSError):
        save_maps(path, 'img', np.array([1]), np.zeros((1, 3, 3)))
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ['img.npz']
    assert load_maps(path)['classes'].tolist() == [0]


@pytest.mark.parametrize('code, reason', [(errno.ENOSPC, 'the disk holding it is full'),
                                          (errno.EDQUOT, 'the disk quota there is used up')])
def test_full_disk_error_names_the_file_and_folder(tmp_path, monkeypatch, code, reason):
    # before: "[Errno 28] No space left on device" and nothing else
    folder = str(tmp_path / 'maps')
    path = map_path(folder, 'img')

    def disk_full(file, **arrays):
        file.write(b'half of an archive')
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(map_io.np, 'savez_compressed', disk_full)
    with pytest.raises(OSError) as error:
        save_maps(path, 'img', np.array([0]), np.zeros((1, 3, 3)))
    assert error.value.errno == code
    assert str(error.value).startswith(f'[Errno {code}] {os.strerror(code)} while writing '
                                       f'"{path}": {reason} (folder "{folder}")')
    assert isinstance(error.value.__cause__, OSError)
    assert os.listdir(folder) == []  # no temporary file left


def test_full_disk_while_creating_the_folder(tmp_path, monkeypatch):
    path = str(tmp_path / 'new' / 'record.json')

    def disk_full(name, exist_ok=False):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), name)

    monkeypatch.setattr(map_io.os, 'makedirs', disk_full)
    with pytest.raises(OSError, match=re.escape(f'while writing "{path}": the disk holding it')):
        map_io.atomic_write(path, lambda f: f.write(b'{}'))


def test_other_write_errors_are_raised_as_they_are(tmp_path):
    def denied(file):
        raise OSError(errno.EACCES, 'permission denied')

    with pytest.raises(OSError) as error:
        map_io.atomic_write(str(tmp_path / 'a.json'), denied)
    assert error.value.errno == errno.EACCES and str(error.value) == '[Errno 13] permission denied'
    assert os.listdir(tmp_path) == []


# ---- strided maps ------------------------------------------------------------------------
def test_strided_maps_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    maps = rng.random((2, 10, 13)).astype(np.float32)
    strided = rng.random((2, 3, 4)).astype(np.float32)  # ceil(10 / 4), ceil(13 / 4)
    assert map_io.strided_shape(10, 13, 4) == (3, 4)
    path = map_path(str(tmp_path), 'a')
    save_maps(path, 'a', np.array([0, 5]), maps, strided_maps=strided, stride=4)
    record = load_maps(path)
    assert record['stride'] == 4 and isinstance(record['stride'], int)
    assert record['strided_maps'].dtype == np.float32 and record['strided_maps'].shape == (2, 3, 4)
    np.testing.assert_allclose(record['strided_maps'], strided, atol=1e-3)
    np.testing.assert_allclose(record['maps'], maps, atol=1e-3)
    with np.load(path) as raw:
        assert raw['strided_maps'].dtype == np.float16 and raw['stride'].dtype == np.int64
    # without strided maps the keys are absent
    save_maps(path, 'a', np.array([0, 5]), maps)
    assert set(load_maps(path)) == {'img_id', 'classes', 'maps'}
    # stride 1 and no classes are fine
    save_maps(path, 'a', np.array([0]), maps[:1], strided_maps=maps[:1], stride=1)
    save_maps(path, 'a', np.zeros(0, np.int64), np.zeros((0, 10, 13)),
              strided_maps=np.zeros((0, 3, 4)), stride=4)
    assert load_maps(path)['strided_maps'].shape == (0, 3, 4)


@pytest.mark.parametrize('strided, stride, message', [
    (np.zeros((2, 3, 3)), 4, r'need \(2, 3, 4\)'),
    (np.zeros((1, 3, 4)), 4, r'need \(2, 3, 4\)'),
    (np.zeros((2, 5, 7)), 4, r'need \(2, 3, 4\)'),
    (np.zeros((2, 3, 4)), None, 'together'),
    (None, 4, 'together'),
    (np.zeros((2, 3, 4)), 0, 'stride must be an integer >= 1'),
    (np.zeros((2, 3, 4)), 4.0, 'stride must be an integer >= 1'),
    (np.zeros((2, 3, 4)), True, 'stride must be an integer >= 1'),
    (np.full((2, 3, 4), 2.0), 4, r'strided_maps values must lie in \[0, 1\]'),
    (np.full((2, 3, 4), np.inf), 4, 'strided_maps contain NaN or inf'),
])
def test_save_rejects_bad_strided_maps(tmp_path, strided, stride, message):
    path = str(tmp_path / 'a.npz')
    with pytest.raises(ValueError, match=message):
        save_maps(path, 'a', np.array([0, 1]), np.zeros((2, 10, 13)), strided_maps=strided,
                  stride=stride)
    assert not os.path.exists(path)


@pytest.mark.parametrize('extra, message', [
    (dict(strided_maps=np.zeros((1, 2, 2), np.float16)), 'only one of strided_maps / stride'),
    (dict(stride=np.array(4)), 'only one of strided_maps / stride'),
    (dict(strided_maps=np.zeros((1, 2, 2), np.float16), stride=np.array(4)),
     r'need \(1, 3, 4\)'),
    (dict(strided_maps=np.zeros((1, 3, 4), np.float16), stride=np.array([4])),
     'integer scalar'),
])
def test_load_checks_strided_maps(tmp_path, extra, message):
    path = str(tmp_path / 'a.npz')
    np.savez_compressed(path, img_id=np.array('a'), classes=np.array([0]),
                        maps=np.zeros((1, 10, 13), np.float16), **extra)
    with pytest.raises(ValueError, match=message):
        load_maps(path)


# ---- checks on load: values, image, tags ---------------------------------------------------
def _write_raw(path, img_id='a', classes=(0, 1), maps=None, **extra):
    """A map file written without save_maps' checks (a foreign tool, a hand edit)."""
    maps = np.full((len(classes), 4, 5), 0.5, np.float16) if maps is None else maps
    np.savez_compressed(path, img_id=np.array(img_id), classes=np.array(classes, np.int64),
                        maps=np.asarray(maps, np.float16), **extra)
    return path


def _with(value, where=(0, 1, 2)):
    maps = np.full((2, 4, 5), 0.5, np.float32)
    maps[where] = value
    return maps


@pytest.mark.parametrize('maps, message', [
    (_with(np.nan), r'maps contain 1 NaN value\(s\) \(the first at \[class slot, y, x\] = '
                    r'\[0, 1, 2\]\)'),
    (_with(np.inf), r'maps contain 1 inf value\(s\)'),
    (_with(-np.inf), r'maps contain 1 inf value\(s\)'),
    (_with(3.0), r'maps values must lie in \[0, 1\], got \[0\.5, 3\]'),
    (_with(-0.5), r'maps values must lie in \[0, 1\], got \[-0\.5, 0\.5\]'),
])
def test_load_rejects_nan_inf_and_out_of_range_values(tmp_path, maps, message):
    path = _write_raw(str(tmp_path / 'bad_values.npz'), maps=maps)
    with pytest.raises(ValueError, match=r'bad_values\.npz.*' + message):
        load_maps(path)


def test_load_rejects_bad_strided_values(tmp_path):
    strided = np.full((2, 1, 2), 0.5, np.float16)
    strided[1, 0, 1] = np.nan
    path = _write_raw(str(tmp_path / 'strided.npz'), strided_maps=strided, stride=np.array(4))
    with pytest.raises(ValueError, match=r'strided\.npz.*strided_maps contain 1 NaN'):
        load_maps(path)


def test_load_tolerates_float16_rounding_and_clips(tmp_path):
    path = _write_raw(str(tmp_path / 'a.npz'), maps=_with(1.0005))
    maps = load_maps(path)['maps']
    assert maps.max() == 1.0 and maps.dtype == np.float32


def test_load_checks_the_image_id(tmp_path):
    path = _write_raw(str(tmp_path / 'img_b.npz'), img_id='img_a')
    assert load_maps(path, img_id='img_a')['img_id'] == 'img_a'
    with pytest.raises(ValueError, match=r'img_b\.npz" belongs to image "img_a", not "img_b"'):
        load_maps(path, img_id='img_b')


@pytest.mark.parametrize('tags', [
    np.array([1, 1, 0], np.float32),  # a multi-hot gt_label
    np.array([True, True, False, False]),
    [0, 1], np.array([1, 0]), [0, 1, 2],  # class indices (a superset is fine)
])
def test_load_accepts_classes_among_the_tags(tmp_path, tags):
    path = _write_raw(str(tmp_path / 'a.npz'))
    assert load_maps(path, img_id='a', tags=tags)['classes'].tolist() == [0, 1]


@pytest.mark.parametrize('tags, shown', [
    (np.array([1, 0, 0], np.float32), r'\[1\].*tagged only with \[0\]'),
    (np.array([0, 0, 1], np.float32), r'\[0, 1\].*tagged only with \[2\]'),
    ([1], r'\[0\].*tagged only with \[1\]'),
    (np.zeros(3, np.float32), r'\[0, 1\].*tagged only with \[\]'),
])
def test_load_rejects_classes_the_image_is_not_tagged_with(tmp_path, tags, shown):
    path = _write_raw(str(tmp_path / 'extra.npz'))
    with pytest.raises(ValueError, match=r'extra\.npz" holds maps of class\(es\) ' + shown):
        load_maps(path, tags=tags)


@pytest.mark.parametrize('classes, message', [
    ((1, 1), r'distinct foreground class indices >= 0, got \[1, 1\]'),
    ((-1, 0), r'distinct foreground class indices >= 0, got \[-1, 0\]'),
])
def test_load_rejects_repeated_or_negative_classes(tmp_path, classes, message):
    path = _write_raw(str(tmp_path / 'classes.npz'), classes=classes)
    with pytest.raises(ValueError, match=r'classes\.npz.*' + message):
        load_maps(path)


def test_load_rejects_non_integer_classes(tmp_path):
    path = str(tmp_path / 'float_classes.npz')
    np.savez_compressed(path, img_id=np.array('a'), classes=np.array([0.5]),
                        maps=np.zeros((1, 2, 2), np.float16))
    with pytest.raises(ValueError, match=r'float_classes\.npz": classes must be integer'):
        load_maps(path)
