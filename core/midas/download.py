"""Find the weights file, or download and verify the official one.

:func:`resolve_weights` finds a local file (explicit path, ``MIDAS_WEIGHTS``, the torch hub
cache) or downloads the file :data:`~core.midas.config.MIDAS_SMALL` names, with
:func:`download_weights`, which only ever leaves a complete file whose SHA-256 matches.
Failures raise the :class:`~core.midas.errors.WeightsError` family.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import torch
from filelock import FileLock

from core.midas.config import _ENV_VAR, MIDAS_SMALL, WeightsConfig, _check_sha256_prefix
from core.midas.errors import (
    WeightsCorruptError,
    WeightsDownloadError,
    WeightsHashError,
    _existing_file,
)

__all__ = [
    "ResolvedWeights",
    "download_weights",
    "hub_checkpoint_dir",
    "resolve_weights",
    "sha256_file",
    "verify_sha256_prefix",
]

_CHUNK = 1 << 20  # bytes per read/write/hash step

ProgressFn = Callable[[int, "int | None"], None]


@dataclasses.dataclass(frozen=True)
class ResolvedWeights:
    """A weights file that exists on disk, and how it was found.

    Attributes:
        path: The file.
        source: One of ``"explicit"``, ``"env"``, ``"cache"`` or ``"download"``.
    """

    path: Path
    source: str


def hub_checkpoint_dir() -> Path:
    """Return the torch hub checkpoint folder, where downloaded weights are cached.

    It honours ``TORCH_HOME`` (and ``XDG_CACHE_HOME``); the default is
    ``~/.cache/torch/hub/checkpoints``.
    """
    return Path(torch.hub.get_dir()) / "checkpoints"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the SHA-256 of a file as lowercase hex, reading it in chunks.

    Args:
        path: File to hash.

    Example:
        >>> sha256_file(some_empty_file)  # doctest: +SKIP
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256_prefix(path: str | os.PathLike[str], prefix: str) -> str:
    """Check that a file's SHA-256 starts with ``prefix``.

    Args:
        path: File to check.
        prefix: Expected leading hex digits (1 to 64, lowercase).

    Returns:
        The full hex digest.

    Raises:
        ValueError: ``prefix`` is not lowercase hex.
        WeightsHashError: The digest does not start with ``prefix``.
    """
    _check_sha256_prefix(prefix)
    digest = sha256_file(path)
    if not digest.startswith(prefix):
        raise WeightsHashError(
            f"SHA-256 of {path} is {digest}, but it should start with {prefix}. The file is "
            "damaged or is not the official one: delete it and download it again."
        )
    return digest


def download_weights(
    url: str,
    dest_dir: str | os.PathLike[str],
    file_name: str,
    sha256_prefix: str,
    *,
    timeout: float = 30.0,
    progress: ProgressFn | None = None,
) -> Path:
    """Download a file into ``dest_dir`` and verify its SHA-256 prefix.

    The bytes go to a temporary file in ``dest_dir`` and are hashed as they arrive. Only a
    complete file whose hash matches is renamed to ``dest_dir / file_name``, so an interrupted or
    bad download never leaves a final file. A lock file in ``dest_dir`` serialises concurrent
    callers: a second process waits, then returns the file the first one verified.

    Args:
        url: ``http``, ``https`` or ``file`` URL.
        dest_dir: Folder to store the file in; created if missing.
        file_name: Name of the final file inside ``dest_dir``.
        sha256_prefix: Expected leading hex digits of the file's SHA-256.
        timeout: Seconds any single network operation may block before giving up.
        progress: Called as ``progress(done_bytes, total_bytes)`` after every chunk;
            ``total_bytes`` is None when the server sends no Content-Length.

    Returns:
        The path of the verified file.

    Raises:
        ValueError: An argument is malformed.
        WeightsDownloadError: The server cannot be reached, answers with an HTTP error or stalls,
            or ``dest_dir`` cannot be written.
        WeightsCorruptError: The body is shorter than its Content-Length.
        WeightsHashError: The downloaded file, or one already at the destination, has the wrong
            hash.
    """
    scheme = urllib.parse.urlsplit(url).scheme if isinstance(url, str) else None
    if scheme not in ("http", "https", "file"):
        raise ValueError(f"url must be an http, https or file URL, got {url!r}.")
    if not file_name or Path(file_name).name != file_name:
        raise ValueError(f"file_name must be a bare file name without folders, got {file_name!r}.")
    _check_sha256_prefix(sha256_prefix)
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}.")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, got {type(progress).__name__}.")

    dest_dir = Path(dest_dir).expanduser()
    final = dest_dir / file_name
    lock = FileLock(dest_dir / f".{file_name}.lock")  # blocks while another process downloads
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except OSError as e:
        raise WeightsDownloadError(
            f"Cannot write the weights to {dest_dir} ({e}). Set TORCH_HOME to a writable folder, "
            f"or download {url} yourself and set {_ENV_VAR}=/path/to/{file_name}."
        ) from e
    try:
        if final.is_file():
            verify_sha256_prefix(final, sha256_prefix)
            return final
        _remove_partials(dest_dir, file_name)  # left behind by a killed process
        _fetch_verified(url, dest_dir, file_name, sha256_prefix, timeout, progress)
        return final
    finally:
        lock.release()


def resolve_weights(
    path: str | os.PathLike[str] | None = None,
    *,
    config: WeightsConfig = MIDAS_SMALL,
    progress: ProgressFn | None = None,
    timeout: float = 30.0,
) -> ResolvedWeights:
    """Find the weights file, downloading it on first use.

    The first of these wins: the explicit ``path``; the ``MIDAS_WEIGHTS`` environment variable;
    ``hub_checkpoint_dir() / name`` for each of ``config.file_names``; a download of
    ``config.url`` into ``hub_checkpoint_dir()``.

    Args:
        path: A weights file chosen by the caller, or None to search.
        config: Which weights to look for.
        progress: Passed to :func:`download_weights` if a download happens.
        timeout: Passed to :func:`download_weights` if a download happens.

    Returns:
        The file and where it came from.

    Raises:
        WeightsNotFoundError: ``path`` or ``MIDAS_WEIGHTS`` names a file that does not exist
            (also a ``FileNotFoundError``).
        TypeError: ``config`` is not a :class:`WeightsConfig`.
        WeightsError: The download failed (see :func:`download_weights`).
    """
    if not isinstance(config, WeightsConfig):
        raise TypeError(f"config must be a WeightsConfig, got {type(config).__name__}.")
    if path is not None:
        explicit = _existing_file(path, "The weights file passed explicitly")
        return ResolvedWeights(explicit, "explicit")
    env = os.environ.get(_ENV_VAR, "")
    if env:
        where = f"The weights file named by {_ENV_VAR}"
        return ResolvedWeights(_existing_file(env, where, hint=f"Fix or unset {_ENV_VAR}."), "env")
    cache_dir = hub_checkpoint_dir()
    for name in config.file_names:
        candidate = cache_dir / name
        if candidate.is_file():
            return ResolvedWeights(candidate, "cache")
    downloaded = download_weights(
        config.url,
        cache_dir,
        config.download_name,
        config.sha256_prefix,
        timeout=timeout,
        progress=progress,
    )
    return ResolvedWeights(downloaded, "download")


def _partial_prefix(file_name: str) -> str:
    return f".{file_name}."


def _remove_partials(dest_dir: Path, file_name: str) -> None:
    for stale in dest_dir.glob(f"{glob.escape(_partial_prefix(file_name))}*.part"):
        stale.unlink(missing_ok=True)


def _download_failed(url: str, final: Path, reason: str) -> WeightsDownloadError:
    return WeightsDownloadError(
        f"Could not download {url}: {reason}. If this machine is offline, download the file on "
        f"another machine and put it in {final.parent} as {final.name}, or set "
        f"{_ENV_VAR}=/path/to/the/file."
    )


def _fetch_verified(
    url: str,
    dest_dir: Path,
    file_name: str,
    sha256_prefix: str,
    timeout: float,
    progress: ProgressFn | None,
) -> None:
    final = dest_dir / file_name
    fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=_partial_prefix(file_name), suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest, done, total = _stream(url, out, final, timeout, progress)
            out.flush()
            os.fsync(out.fileno())
        if total is not None and done < total:
            raise WeightsCorruptError(
                f"The download of {url} stopped after {done} of {total} bytes. Nothing was saved; "
                "try again."
            )
        if not digest.startswith(sha256_prefix):
            raise WeightsHashError(
                f"SHA-256 of the file downloaded from {url} is {digest}, but it should start with "
                f"{sha256_prefix}. Nothing was saved; try again, or check that the URL serves the "
                "official file."
            )
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def _stream(
    url: str, out: BinaryIO, final: Path, timeout: float, progress: ProgressFn | None
) -> tuple[str, int, int | None]:
    """Copy ``url`` into ``out``; return (sha256 hex, bytes written, Content-Length or None)."""
    digest = hashlib.sha256()
    done = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None and length.isdigit() else None
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    except urllib.error.HTTPError as e:
        raise _download_failed(url, final, f"the server answered HTTP {e.code} {e.reason}") from e
    except urllib.error.URLError as e:
        if isinstance(e.reason, TimeoutError):
            reason = f"no answer within the {timeout:g} s timeout"
        else:
            reason = f"{e.reason}"
        raise _download_failed(url, final, reason) from e
    except TimeoutError as e:
        raise _download_failed(
            url, final, f"the server stopped sending data for longer than the {timeout:g} s timeout"
        ) from e
    except http.client.IncompleteRead as e:
        raise WeightsCorruptError(
            f"The download of {url} stopped early ({e}). Nothing was saved; try again."
        ) from e
    except (ConnectionError, http.client.HTTPException) as e:
        raise _download_failed(url, final, f"the connection failed ({e})") from e
    return digest.hexdigest(), done, total
