"""Find, download, verify and read the MiDaS v2.1 small checkpoint.

The facts about the weights live in one frozen config, :data:`MIDAS_SMALL`, next to the loader
(as timm's ``_cfg``). :func:`resolve_weights` finds a local file or downloads the official one;
:func:`read_checkpoint` reads it with ``weights_only=True``; :func:`check_state_dict` compares its
names, shapes and dtypes with what the model expects. Every failure raises a subclass of
:class:`WeightsError` whose message says what to do next.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import http.client
import os
import pickle
import re
import struct
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import BinaryIO

import torch
from filelock import FileLock

__all__ = [
    "MIDAS_SMALL",
    "ResolvedWeights",
    "WeightsConfig",
    "WeightsCorruptError",
    "WeightsDownloadError",
    "WeightsError",
    "WeightsHashError",
    "WeightsMismatchError",
    "WeightsNotFoundError",
    "WeightsUnsafeError",
    "check_state_dict",
    "download_weights",
    "hub_checkpoint_dir",
    "read_checkpoint",
    "resolve_weights",
    "sha256_file",
    "verify_sha256_prefix",
]

_ENV_VAR = "MIDAS_WEIGHTS"
_CHUNK = 1 << 20  # bytes per read/write/hash step
_MAX_LISTED = 5  # names shown per category in a mismatch message
_HEX = re.compile(r"[0-9a-f]{1,64}")
_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's default (zip) format
_PICKLE_PROTO = b"\x80"  # torch's legacy format starts with a pickle PROTO opcode

ProgressFn = Callable[[int, "int | None"], None]


def _check_sha256_prefix(prefix: str) -> None:
    if not isinstance(prefix, str) or not _HEX.fullmatch(prefix):
        raise ValueError(f"sha256_prefix must be 1 to 64 lowercase hex digits, got {prefix!r}.")


@dataclasses.dataclass(frozen=True)
class WeightsConfig:
    """Everything the project knows about one set of pretrained weights.

    Attributes:
        name: Human-readable name used in messages.
        url: Where the official file is downloaded from.
        file_names: Official file names, looked up in the torch hub checkpoint folder in order.
        download_name: Name the downloaded file is stored under; one of ``file_names``.
        sha256_prefix: Leading hex digits of the file's SHA-256 (torch hub convention).
        input_size: Side of the square network input, in pixels.
        mean: Per-channel RGB mean used to normalise inputs in [0, 1].
        std: Per-channel RGB standard deviation used to normalise inputs in [0, 1].
        interpolation: Resampling used to resize the input.
    """

    name: str
    url: str
    file_names: tuple[str, ...]
    download_name: str
    sha256_prefix: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str

    def __post_init__(self) -> None:
        if self.download_name not in self.file_names:
            raise ValueError(
                f"download_name {self.download_name!r} must be one of file_names "
                f"{self.file_names!r}, or a downloaded file would never be found in the cache."
            )
        _check_sha256_prefix(self.sha256_prefix)
        if self.input_size <= 0:
            raise ValueError(
                f"input_size must be a positive number of pixels, got {self.input_size}."
            )
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(
                f"mean and std must hold 3 values with std > 0, "
                f"got mean={self.mean}, std={self.std}."
            )


MIDAS_SMALL = WeightsConfig(
    name="MiDaS v2.1 small",
    url="https://github.com/isl-org/MiDaS/releases/download/v2_1/model-small-70d6b9c8.pt",
    file_names=("midas_v21_small_256.pt", "model-small-70d6b9c8.pt"),
    download_name="model-small-70d6b9c8.pt",
    sha256_prefix="70d6b9c8",
    input_size=256,
    mean=(0.485, 0.456, 0.406),
    std=(0.229, 0.224, 0.225),
    interpolation="bicubic",
)


@dataclasses.dataclass(frozen=True)
class ResolvedWeights:
    """A weights file that exists on disk, and how it was found.

    Attributes:
        path: The file.
        source: One of ``"explicit"``, ``"env"``, ``"cache"`` or ``"download"``.
    """

    path: Path
    source: str


class WeightsError(RuntimeError):
    """Base class for every failure to obtain or read the weights."""


class WeightsNotFoundError(WeightsError, FileNotFoundError):
    """An explicit path or ``MIDAS_WEIGHTS`` names a file that does not exist (or a folder)."""


class WeightsDownloadError(WeightsError):
    """The file could not be downloaded (offline, refused, timed out, HTTP error)."""


class WeightsCorruptError(WeightsError):
    """The file is truncated or is not a torch checkpoint."""


class WeightsHashError(WeightsError):
    """The file's SHA-256 does not start with the expected prefix."""


class WeightsMismatchError(WeightsError):
    """The checkpoint does not hold the expected tensors (names, shapes or dtypes differ)."""


class WeightsUnsafeError(WeightsError):
    """The checkpoint contains code or objects that a weights-only load refuses to run."""


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


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a checkpoint with ``torch.load(weights_only=True)`` onto the CPU.

    A training checkpoint of the form ``{"model": state_dict, "optimizer": ...}`` (as the official
    MiDaS loader accepts) is unwrapped to its ``state_dict``.

    Args:
        path: The checkpoint file.

    Returns:
        The tensors by name, in file order.

    Raises:
        WeightsNotFoundError: ``path`` does not exist (also a ``FileNotFoundError``).
        WeightsCorruptError: The file is truncated or is not a torch checkpoint.
        WeightsUnsafeError: The file contains code or objects a weights-only load refuses.
        WeightsMismatchError: The file holds something other than a mapping of names to tensors.
    """
    path = _existing_file(path, "The checkpoint")
    with open(path, "rb") as f:
        head = f.read(len(_ZIP_MAGIC))
    if not (head.startswith(_ZIP_MAGIC) or head.startswith(_PICKLE_PROTO)):
        raise WeightsCorruptError(
            f"{path} is not a torch checkpoint (it starts with {head!r}; the file is empty, or a "
            "web page or other file was saved in its place). Delete it and download it again."
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "GLOBAL" in str(e):  # torch names the refused global, e.g. "GLOBAL posix.system"
            raise WeightsUnsafeError(
                f"{path} contains code or Python objects, not only tensors, so it was refused for "
                "safety and nothing in it was run. Use the official checkpoint: delete this file "
                "and download it again."
            ) from e
        raise WeightsCorruptError(
            f"{path} is damaged or is not a torch checkpoint. Delete it and download it again."
        ) from e
    except (
        RuntimeError,
        EOFError,
        KeyError,
        IndexError,
        ValueError,
        struct.error,
        zipfile.BadZipFile,
    ) as e:
        raise WeightsCorruptError(
            f"{path} is truncated or damaged ({type(e).__name__}); it cannot be read as a torch "
            "checkpoint. Delete it and download it again."
        ) from e

    if isinstance(obj, Mapping) and "optimizer" in obj and isinstance(obj.get("model"), Mapping):
        obj = obj["model"]
    if not isinstance(obj, Mapping):
        raise WeightsMismatchError(
            f"{path} holds a {type(obj).__name__}, not a state_dict (a mapping of names to "
            "tensors). "
            "Use the official MiDaS v2.1 small checkpoint."
        )
    bad = [
        str(k) for k, v in obj.items() if not (isinstance(k, str) and isinstance(v, torch.Tensor))
    ]
    if bad:
        raise WeightsMismatchError(
            f"{path} is not a state_dict: {len(bad)} entries are not name -> tensor pairs "
            f"({_first(bad)}). Use the official MiDaS v2.1 small checkpoint."
        )
    return dict(obj)


def check_state_dict(
    state_dict: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor]
) -> None:
    """Check that a state_dict has exactly the names, shapes and dtypes of ``expected``.

    Args:
        state_dict: Tensors read from a checkpoint.
        expected: Tensors of the model to load into, e.g. ``model.state_dict()``.

    Raises:
        TypeError: Either argument is not a mapping of names to tensors.
        WeightsMismatchError: Names are missing or unexpected, or shapes or dtypes differ; the
            message lists the first few of each with counts.

    Example:
        >>> check_state_dict({"w": torch.zeros(2)}, {"w": torch.empty(2)})
        >>> check_state_dict({"w": torch.zeros(3)}, {"w": torch.empty(2)})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        core.midas.weights.WeightsMismatchError: ... 1 with the wrong shape (w: [3] instead of [2])...
    """
    for label, mapping in (("state_dict", state_dict), ("expected", expected)):
        if not isinstance(mapping, Mapping):
            raise TypeError(
                f"{label} must be a mapping of names to tensors, got {type(mapping).__name__}."
            )
        for key, value in mapping.items():
            if not isinstance(value, torch.Tensor):
                raise TypeError(
                    f"{label}[{key!r}] must be a torch.Tensor, got {type(value).__name__}."
                )

    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    common = [k for k in expected if k in state_dict]
    shapes = [
        f"{k}: {list(state_dict[k].shape)} instead of {list(expected[k].shape)}"
        for k in common
        if state_dict[k].shape != expected[k].shape
    ]
    dtypes = [
        f"{k}: {state_dict[k].dtype} instead of {expected[k].dtype}"
        for k in common
        if state_dict[k].dtype != expected[k].dtype
    ]
    problems = [
        f"{len(items)} {what} ({_first(items)})"
        for what, items in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("with the wrong shape", shapes),
            ("with the wrong dtype", dtypes),
        )
        if items
    ]
    if problems:
        raise WeightsMismatchError(
            f"Not a {MIDAS_SMALL.name} checkpoint: of {len(expected)} expected tensors, "
            + "; ".join(problems)
            + f". Use the official file ({MIDAS_SMALL.url}) or point {_ENV_VAR} at it."
        )


def _first(items: list[str]) -> str:
    shown = ", ".join(items[:_MAX_LISTED])
    return shown + (", ..." if len(items) > _MAX_LISTED else "")


def _existing_file(path: str | os.PathLike[str], what: str, hint: str = "") -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"A weights path must be a str or os.PathLike, got {type(path).__name__}.")
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        state = "is a folder, not a file" if resolved.is_dir() else "does not exist"
        raise WeightsNotFoundError(f"{what}, {resolved}, {state}. Check the path. {hint}".rstrip())
    return resolved


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
