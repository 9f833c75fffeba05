"""The weights on a worker node: from its hub cache when there, else the driver's bytes, checked by SHA-256.

The driver resolves the weights as every command does (``--weights``, ``MIDAS_WEIGHTS``, the
hub cache, a download) and hashes the file: that digest is what every worker must use. A
worker first looks in its node's hub cache for a file with that digest; otherwise it fetches
the bytes the driver put in Ray's object store, refuses them unless their SHA-256 is the
expected one, and stores them once per node (under a file lock, atomically) in
``<torch hub dir>/midas_batch/<sha256>.pt``, where the node's other workers find them.

Nothing here imports Ray: the caller passes ``fetch``, a function that returns the bytes.
"""
from __future__ import annotations

import hashlib
import os
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from core.midas.config import MIDAS_SMALL, WeightsConfig
from core.midas.download import hub_checkpoint_dir, sha256_file
from core.midas.errors import WeightsHashError

__all__ = ["node_store", "node_weights"]


def node_store() -> Path:
    """This node's folder for weights received from a driver: ``<torch hub dir>/midas_batch``."""
    return hub_checkpoint_dir().parent / "midas_batch"


def node_weights(
    expected_sha256: str, fetch: Callable[[], bytes], *, config: WeightsConfig = MIDAS_SMALL
) -> tuple[Path, str]:
    """A local weights file whose SHA-256 is ``expected_sha256``, and where it came from.

    Args:
        expected_sha256: The 64-hex-digit digest of the driver's weights file.
        fetch: Returns the driver's bytes (called only when this node has no such file).
        config: Which weights the hub cache is searched for.

    Returns:
        ``(path, source)``; ``source`` is ``"cache"`` (the hub cache), ``"node"`` (an earlier
        transfer to this node) or ``"driver"`` (fetched now).

    Raises:
        ValueError: ``expected_sha256`` is not a 64-digit lowercase hex digest.
        WeightsHashError: The fetched bytes have another SHA-256; nothing is stored.
    """
    if not (isinstance(expected_sha256, str) and len(expected_sha256) == 64
            and all(c in "0123456789abcdef" for c in expected_sha256)):
        raise ValueError(f"expected_sha256 must be 64 lowercase hex digits, got {expected_sha256!r}")
    for name in config.file_names:
        candidate = hub_checkpoint_dir() / name
        if candidate.is_file() and sha256_file(candidate) == expected_sha256:
            return candidate, "cache"
    store = node_store()
    store.mkdir(parents=True, exist_ok=True)
    final = store / f"{expected_sha256}.pt"
    with FileLock(store / f".{expected_sha256}.lock"):  # the node's other workers wait, then reuse it
        if final.is_file() and sha256_file(final) == expected_sha256:
            return final, "node"
        data = fetch()
        digest = hashlib.sha256(data).hexdigest()
        if digest != expected_sha256:
            raise WeightsHashError(
                f"the weights sent by the driver have SHA-256 {digest}, not the expected {expected_sha256}: "
                f"refused on this worker ({socket.gethostname()}). They were damaged or replaced on the way; "
                "check the driver's weights file (python -m core info) and run again."
            )
        fd, tmp = tempfile.mkstemp(dir=store, prefix=f".{expected_sha256}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, final)
        finally:
            Path(tmp).unlink(missing_ok=True)
    return final, "driver"
