"""core/batch/storage.py: atomic writes to a local folder (remote filesystems are not testable here)."""
from __future__ import annotations

import os
import pickle
import stat

import pytest

from core.batch.storage import Storage


def test_write_read_exists_and_paths(tmp_path):
    storage = Storage(tmp_path / "out")
    storage.prepare()
    assert not storage.exists("a.bin") and storage.read("a.bin") is None
    assert storage.write("a.bin", b"123") == str(tmp_path / "out" / "a.bin")
    assert storage.exists("a.bin") and storage.read("a.bin") == b"123"
    assert os.listdir(tmp_path / "out") == ["a.bin"]


def test_written_files_get_ordinary_permissions_not_mkstemps(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    path = Storage(tmp_path).write("a.bin", b"x")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask


def test_a_failed_write_leaves_neither_the_file_nor_a_temporary_one(tmp_path, monkeypatch):
    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="No space"):
        Storage(tmp_path).write("a.bin", b"x")
    assert os.listdir(tmp_path) == []


def test_put_moves_a_complete_file_into_place(tmp_path):
    (tmp_path / "staging").mkdir()
    (tmp_path / "staging" / "f").write_bytes(b"data")
    Storage(tmp_path).put(str(tmp_path / "staging" / "f"), "g")
    assert (tmp_path / "g").read_bytes() == b"data" and not (tmp_path / "staging" / "f").exists()


def test_a_storage_pickles_as_its_location_and_knows_uris():
    s = pickle.loads(pickle.dumps(Storage("s3://bucket/depth")))
    assert s.remote and s.path("a.npy") == "s3://bucket/depth/a.npy"
    assert not Storage("file:///tmp/x").remote and Storage("file:///tmp/x").location == "/tmp/x"
    with pytest.raises(ValueError):
        Storage("")
