"""core/batch/outputs.py: predict's files, written atomically, only the missing ones."""
from __future__ import annotations

import os

import numpy as np
import pytest

from core.batch.outputs import DEFAULT_FORMATS, expected_names, parse_formats, write_outputs
from core.batch.storage import Storage


class _Info:  # what the files state: a PredictorInfo's sha256 and size
    sha256 = "ab" * 32
    size = 256


def _depth() -> np.ndarray:
    return np.linspace(0.5, 3.0, 12 * 16, dtype=np.float32).reshape(12, 16)  # HxW


def test_formats_are_predicts_with_heatmap_read_as_png():
    assert DEFAULT_FORMATS == ("npy", "png", "png16")
    assert parse_formats("png16, heatmap ,NPY,png16") == ("png16", "png", "npy")
    with pytest.raises(ValueError, match="unknown output format jpeg"):
        parse_formats("npy,jpeg")
    with pytest.raises(ValueError, match="none given"):
        parse_formats(" , ")


def test_expected_names_are_predicts_names():
    assert expected_names("cat", DEFAULT_FORMATS) == ["cat.npy", "cat_depth.png", "cat_depth16.png"]


def test_write_outputs_writes_what_predicts_writer_writes_and_leaves_no_temporary_files(tmp_path):
    from core.io.depth_files import write_depth_files
    from core.io.metadata import facts_for

    (tmp_path / "b").mkdir()
    paths = write_outputs(Storage(tmp_path / "b"), "cat", _depth(), _Info(), formats=DEFAULT_FORMATS,
                          colormap="turbo", source_size=(16, 12))
    (tmp_path / "p").mkdir()
    write_depth_files(tmp_path / "p", "cat", _depth(), "turbo", DEFAULT_FORMATS, facts_for(_Info(), 16, 12))
    assert sorted(os.listdir(tmp_path / "b")) == sorted(os.listdir(tmp_path / "p"))
    for name in os.listdir(tmp_path / "p"):
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "p" / name).read_bytes()
    assert [os.path.basename(p) for p in paths] == sorted(os.listdir(tmp_path / "p"))


def test_an_existing_file_is_kept_and_a_missing_one_written(tmp_path):
    storage = Storage(tmp_path)
    write_outputs(storage, "cat", _depth(), _Info(), formats=["npy", "png16"], colormap="inferno", source_size=(16, 12))
    (tmp_path / "cat.npy").write_bytes(b"kept")
    (tmp_path / "cat_depth16.png").unlink()
    write_outputs(storage, "cat", _depth() * 2, _Info(), formats=["npy", "png16"], colormap="inferno",
                  source_size=(16, 12))
    assert (tmp_path / "cat.npy").read_bytes() == b"kept"
    assert (tmp_path / "cat_depth16.png").is_file()
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]
