"""core/batch/weights.py: a worker's weights, from its hub cache or the driver's bytes, checked by SHA-256.

The refusal on a real Ray worker is in test_ray_engine.py; here the same function runs in-process.
"""
from __future__ import annotations

import hashlib

import pytest

from core.batch.weights import node_store, node_weights
from core.midas.errors import WeightsHashError


@pytest.fixture()
def node(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    return tmp_path


def _fetcher(data: bytes):
    calls = []

    def fetch() -> bytes:
        calls.append(1)
        return data

    return fetch, calls


def test_the_driver_bytes_are_stored_once_per_node(node):
    data = b"weights" * 1000
    sha = hashlib.sha256(data).hexdigest()
    fetch, calls = _fetcher(data)
    path, source = node_weights(sha, fetch)
    assert source == "driver" and path.read_bytes() == data and path.parent == node_store()
    assert node_weights(sha, fetch) == (path, "node") and len(calls) == 1


def test_the_hub_cache_is_used_when_it_holds_the_same_file(node):
    data = b"official" * 1000
    (node / "hub" / "checkpoints").mkdir(parents=True)
    (node / "hub" / "checkpoints" / "midas_v21_small_256.pt").write_bytes(data)
    fetch, calls = _fetcher(b"")
    path, source = node_weights(hashlib.sha256(data).hexdigest(), fetch)
    assert source == "cache" and path.name == "midas_v21_small_256.pt" and not calls


def test_tampered_bytes_are_refused_and_nothing_is_stored(node):
    sha = hashlib.sha256(b"genuine").hexdigest()
    with pytest.raises(WeightsHashError, match="refused on this worker"):
        node_weights(sha, lambda: b"genuinf")
    assert not list(node_store().glob("*.pt"))


def test_the_digest_must_be_a_full_sha256(node):
    with pytest.raises(ValueError, match="64 lowercase hex"):
        node_weights("70d6b9c8", lambda: b"")
