"""Tests for core.midas.weights_install: a hand-supplied checkpoint is validated, then cached."""

from __future__ import annotations

import io

import pytest
import torch

from core.midas.config import MIDAS_SMALL
from core.midas.download import resolve_weights
from core.midas.errors import WeightsCorruptError, WeightsMismatchError
from core.midas.weights_install import install_checkpoint


def test_valid_checkpoint_is_installed_where_resolve_finds_it(reference_weights, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("MIDAS_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    data = reference_weights.read_bytes()
    path = install_checkpoint(data, source_name="upload.pt")
    assert path.name == MIDAS_SMALL.file_names[0]
    assert path.read_bytes() == data
    resolved = resolve_weights()
    assert resolved.path == path and resolved.source == "cache"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"<html>not found</html>", WeightsCorruptError),
        (b"PK\x03\x04truncated zip", WeightsCorruptError),
        ("tensor", WeightsMismatchError),
    ],
)
def test_bad_checkpoint_is_refused_and_leaves_nothing(payload, error, tmp_path) -> None:
    if payload == "tensor":  # a real torch file, but not MiDaS small
        buffer = io.BytesIO()
        torch.save({"weight": torch.zeros(3)}, buffer)
        payload = buffer.getvalue()
    with pytest.raises(error) as info:
        install_checkpoint(payload, source_name="my-upload.pt", dest_dir=tmp_path)
    assert "my-upload.pt" in str(info.value) or error is WeightsMismatchError
    assert ".upload" not in str(info.value)  # the temporary file's name is never shown
    assert list(tmp_path.iterdir()) == []


def test_rejects_non_bytes(tmp_path) -> None:
    with pytest.raises(TypeError):
        install_checkpoint("not bytes", dest_dir=tmp_path)  # type: ignore[arg-type]
