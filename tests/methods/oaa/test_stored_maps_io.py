"""The stored cumulative maps of OAA are written through ``atomic_write``: a full disk is an
error naming the file and its folder, and leaves no partial file behind."""
import errno
import os
import re

import numpy as np
import pytest

import wsss_toolbox.methods.oaa.store as store


def test_round_trip(tmp_path):
    path = str(tmp_path / 'raw' / 'img.npz')
    store.save_stored_maps(path, 'img', np.array([1, 2]), np.full((2, 3, 3), 7, np.uint8))
    classes, maps = store.load_stored_maps(path)
    assert classes.tolist() == [1, 2] and maps.dtype == np.uint8 and int(maps.sum()) == 126
    assert os.listdir(tmp_path / 'raw') == ['img.npz']


def test_full_disk_names_the_file_and_leaves_nothing(tmp_path, monkeypatch):
    # before: a raw "[Errno 28] No space left on device" and "img.npz.tmp.npz" left behind
    folder = str(tmp_path / 'raw')
    path = os.path.join(folder, 'img.npz')

    def disk_full(file, **arrays):
        file.write(b'half of an archive')
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(store.np, 'savez_compressed', disk_full)
    expected = f'while writing "{path}": the disk holding it is full (folder "{folder}")'
    with pytest.raises(OSError, match=re.escape(expected)) as error:
        store.save_stored_maps(path, 'img', np.array([1]), np.zeros((1, 3, 3), np.uint8))
    assert error.value.errno == errno.ENOSPC
    assert os.listdir(folder) == []
