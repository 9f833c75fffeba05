"""Tests for core.midas.download: finding, downloading and verifying the MiDaS small checkpoint.

Downloads go to a local ``http.server`` on 127.0.0.1 that serves the reference checkpoint from
``../shared/reference``; nothing here touches the internet.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import http.server
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REFERENCE_WEIGHTS as CHECKPOINT
from tests.conftest import REPO, skip_module_without_checkpoint

skip_module_without_checkpoint()

from core.midas.config import MIDAS_SMALL  # noqa: E402  (after the skip, on purpose)
from core.midas.download import (  # noqa: E402
    ResolvedWeights,
    download_weights,
    hub_checkpoint_dir,
    resolve_weights,
    sha256_file,
    verify_sha256_prefix,
)
from core.midas.errors import (  # noqa: E402
    WeightsCorruptError,
    WeightsDownloadError,
    WeightsHashError,
    WeightsNotFoundError,
)
from tests.conftest import WITHOUT_FCNTL  # noqa: E402

FILE_NAME = "model.pt"


# ----------------------------------------------------------------------------------------------
# Fixtures
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference_bytes() -> bytes:
    return CHECKPOINT.read_bytes()


@pytest.fixture(scope="module")
def reference_sha(reference_bytes: bytes) -> str:
    return hashlib.sha256(reference_bytes).hexdigest()


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub cache under tmp_path, with MIDAS_WEIGHTS unset."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("MIDAS_WEIGHTS", raising=False)
    return tmp_path / "torch" / "hub" / "checkpoints"


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{FILE_NAME}"  # nothing listens there any more


class LocalServer:
    """Serves one body over HTTP; ``mode`` picks how it misbehaves."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.mode = "ok"  # ok | slow | truncate | stall_headers | stall_body
        self.requests = 0
        self.release = threading.Event()  # ends stalls early at teardown
        self._count_lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                # The client may give up mid-body, as some tests make it do.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._respond()

            def _respond(self) -> None:
                with server._count_lock:
                    server.requests += 1
                if self.path != f"/{FILE_NAME}":
                    self.send_error(404)
                    return
                mode, body = server.mode, server.body
                if mode == "stall_headers":
                    server.release.wait(10)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode == "stall_body":
                    self.wfile.write(body[:1000])
                    self.wfile.flush()
                    server.release.wait(10)
                    return
                if mode == "truncate":
                    self.wfile.write(body[: len(body) // 3])
                    self.close_connection = True
                    return
                step = 1 << 20
                for start in range(0, len(body), step):
                    self.wfile.write(body[start : start + step])
                    if mode == "slow":
                        time.sleep(0.01)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/{FILE_NAME}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}
        )

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def server(reference_bytes: bytes) -> Iterator[LocalServer]:
    srv = LocalServer(reference_bytes)
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.close()


def _leftovers(folder: Path) -> list[str]:
    """Files in folder other than the lock file."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


# ----------------------------------------------------------------------------------------------
# Hashing, cache folder
# ----------------------------------------------------------------------------------------------


def test_hub_checkpoint_dir_follows_torch_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    assert hub_checkpoint_dir() == tmp_path / "th" / "hub" / "checkpoints"


@pytest.mark.parametrize("size", [0, 1, (1 << 20) - 1, (1 << 20) + 7])  # around the chunk size
def test_sha256_file_matches_hashlib(tmp_path: Path, size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_verify_sha256_prefix(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"")
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert verify_sha256_prefix(path, "e3b0c442") == empty
    assert verify_sha256_prefix(path, empty) == empty
    with pytest.raises(WeightsHashError) as info:
        verify_sha256_prefix(path, "70d6b9c8")
    assert "70d6b9c8" in str(info.value) and empty in str(info.value)
    with pytest.raises(ValueError, match="hex"):
        verify_sha256_prefix(path, "not-hex")


# ----------------------------------------------------------------------------------------------
# download_weights
# ----------------------------------------------------------------------------------------------


def test_download_good_file(
    tmp_path: Path, server: LocalServer, reference_sha: str, reference_bytes: bytes
) -> None:
    dest = tmp_path / "new" / "folder"  # created on demand
    calls: list[tuple[int, int | None]] = []
    path = download_weights(
        server.url, dest, FILE_NAME, reference_sha[:8], progress=lambda d, t: calls.append((d, t))
    )

    assert path == dest / FILE_NAME
    assert sha256_file(path) == reference_sha
    assert _leftovers(dest) == [FILE_NAME]
    done = [d for d, _ in calls]
    assert len(calls) > 1 and done == sorted(set(done))  # strictly increasing
    assert done[-1] == len(reference_bytes)
    assert {t for _, t in calls} == {len(reference_bytes)}

    # A second call finds the verified file and does not download again.
    assert download_weights(server.url, dest, FILE_NAME, reference_sha[:8]) == path
    assert server.requests == 1


def test_download_refuses_a_wrong_file_already_in_place(
    tmp_path: Path, server: LocalServer, reference_sha: str
) -> None:
    (tmp_path / FILE_NAME).write_bytes(b"something else")
    with pytest.raises(WeightsHashError, match="delete it"):
        download_weights(server.url, tmp_path, FILE_NAME, reference_sha[:8])
    assert (tmp_path / FILE_NAME).read_bytes() == b"something else"  # never overwritten silently
    assert server.requests == 0


def test_download_hash_mismatch_leaves_nothing(
    tmp_path: Path, server: LocalServer, reference_sha: str
) -> None:
    wrong = ("0" if reference_sha[0] != "0" else "1") + reference_sha[1:8]
    with pytest.raises(WeightsHashError) as info:
        download_weights(server.url, tmp_path, FILE_NAME, wrong)
    assert wrong in str(info.value) and reference_sha in str(info.value)
    assert _leftovers(tmp_path) == []


def test_download_truncated_body_leaves_nothing(
    tmp_path: Path, server: LocalServer, reference_sha: str
) -> None:
    server.mode = "truncate"
    with pytest.raises(WeightsCorruptError, match="stopped"):
        download_weights(server.url, tmp_path, FILE_NAME, reference_sha[:8])
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("mode", ["stall_headers", "stall_body"])
def test_download_stalled_server_times_out(
    tmp_path: Path, server: LocalServer, reference_sha: str, mode: str
) -> None:
    # The server stalls for 10 s and then gives up; only the client's own 1 s timeout turns that
    # into a WeightsDownloadError (waiting it out would end in a truncated body instead).
    server.mode = mode
    with pytest.raises(WeightsDownloadError) as info:
        download_weights(server.url, tmp_path, FILE_NAME, reference_sha[:8], timeout=1)
    assert "1 s timeout" in str(info.value)
    assert server.url in str(info.value)
    assert _leftovers(tmp_path) == []


def test_download_offline_names_url_and_folder(tmp_path: Path) -> None:
    url = _closed_port_url()
    dest = tmp_path / "checkpoints"
    with pytest.raises(WeightsDownloadError) as info:
        download_weights(url, dest, FILE_NAME, "abcd", timeout=5)
    message = str(info.value)
    assert url in message and str(dest) in message and "MIDAS_WEIGHTS" in message
    assert _leftovers(dest) == []


def test_download_http_error(tmp_path: Path, server: LocalServer) -> None:
    url = server.url.replace(FILE_NAME, "gone.pt")
    with pytest.raises(WeightsDownloadError, match="HTTP 404") as info:
        download_weights(url, tmp_path, FILE_NAME, "abcd")
    assert url in str(info.value)
    assert _leftovers(tmp_path) == []


def test_interrupted_download_leaves_no_final_file(
    tmp_path: Path, server: LocalServer, reference_sha: str
) -> None:
    class Interrupt(Exception):
        pass

    def stop_after_first_chunk(done: int, total: int | None) -> None:
        raise Interrupt

    with pytest.raises(Interrupt):
        download_weights(
            server.url, tmp_path, FILE_NAME, reference_sha[:8], progress=stop_after_first_chunk
        )
    assert _leftovers(tmp_path) == []


def test_download_cleans_partials_left_by_a_killed_process(
    tmp_path: Path, server: LocalServer, reference_sha: str
) -> None:
    stale = tmp_path / f".{FILE_NAME}.k1ll3d.part"
    stale.write_bytes(b"half a file")
    download_weights(server.url, tmp_path, FILE_NAME, reference_sha[:8])
    assert _leftovers(tmp_path) == [FILE_NAME]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"url": "ftp://127.0.0.1/model.pt"}, "url"),
        ({"file_name": "sub/model.pt"}, "file_name"),
        ({"file_name": ""}, "file_name"),
        ({"sha256_prefix": "XYZ"}, "sha256_prefix"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_download_rejects_bad_arguments(tmp_path: Path, kwargs: dict, match: str) -> None:
    args = {
        "url": "http://127.0.0.1/model.pt",
        "dest_dir": tmp_path,
        "file_name": FILE_NAME,
        "sha256_prefix": "ab",
    }
    args.update(kwargs)
    timeout = args.pop("timeout", 30.0)
    with pytest.raises(ValueError, match=match):
        download_weights(**args, timeout=timeout)


_CONCURRENT_SCRIPT = WITHOUT_FCNTL + textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from core.midas.download import download_weights
    url, dest, prefix, barrier, me = sys.argv[2:]
    Path(barrier, me).touch()
    deadline = time.monotonic() + 60
    while len(list(Path(barrier).iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    print(download_weights(url, dest, "model.pt", prefix, timeout=30))
    """
)


def test_concurrent_downloads_fetch_once(
    tmp_path: Path, server: LocalServer, reference_sha: str
) -> None:
    # Both processes wait at a file barrier, then call download_weights together. The server
    # spreads the body over about a second, so without the lock both would fetch it.
    server.mode = "slow"
    dest, barrier = tmp_path / "dest", tmp_path / "barrier"
    barrier.mkdir()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _CONCURRENT_SCRIPT,
                str(REPO),
                server.url,
                str(dest),
                reference_sha[:8],
                str(barrier),
                name,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    outputs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            outputs.append(out.strip())
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert outputs == [str(dest / FILE_NAME)] * 2
    assert sha256_file(dest / FILE_NAME) == reference_sha
    assert server.requests == 1
    assert _leftovers(dest) == [FILE_NAME]


# ----------------------------------------------------------------------------------------------
# resolve_weights
# ----------------------------------------------------------------------------------------------


def test_resolve_explicit_path_wins(
    hub: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = tmp_path / "other.pt"
    other.write_bytes(b"x")
    monkeypatch.setenv("MIDAS_WEIGHTS", str(other))
    assert resolve_weights(CHECKPOINT) == ResolvedWeights(CHECKPOINT, "explicit")
    assert resolve_weights(str(CHECKPOINT)) == ResolvedWeights(CHECKPOINT, "explicit")


def test_resolve_explicit_missing_path_raises(hub: Path, tmp_path: Path) -> None:
    missing = tmp_path / "typo.pt"
    hub.mkdir(parents=True)
    # A cached file is there, but must not be used instead.
    os.symlink(CHECKPOINT, hub / MIDAS_SMALL.file_names[0])
    with pytest.raises(WeightsNotFoundError, match=r"typo\.pt"):
        resolve_weights(missing)
    with pytest.raises(WeightsNotFoundError, match="folder"):
        resolve_weights(tmp_path)


def test_resolve_env_var(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub.mkdir(parents=True)
    os.symlink(CHECKPOINT, hub / MIDAS_SMALL.file_names[0])  # env beats the cache
    monkeypatch.setenv("MIDAS_WEIGHTS", str(CHECKPOINT))
    assert resolve_weights() == ResolvedWeights(CHECKPOINT, "env")


def test_resolve_env_var_missing_file_raises(
    hub: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MIDAS_WEIGHTS", str(tmp_path / "gone.pt"))
    with pytest.raises(WeightsNotFoundError) as info:
        resolve_weights(config=dataclasses.replace(MIDAS_SMALL, url=_closed_port_url()))
    assert "MIDAS_WEIGHTS" in str(info.value) and "gone.pt" in str(info.value)
    assert isinstance(info.value, FileNotFoundError)  # callers catching the builtin still do


@pytest.mark.parametrize("name", MIDAS_SMALL.file_names)
def test_resolve_cache_under_either_official_name(hub: Path, name: str) -> None:
    hub.mkdir(parents=True)
    os.symlink(CHECKPOINT, hub / name)
    offline = dataclasses.replace(MIDAS_SMALL, url=_closed_port_url())  # a download would fail
    assert hub_checkpoint_dir() == hub
    assert resolve_weights(config=offline) == ResolvedWeights(hub / name, "cache")


def test_resolve_cache_prefers_the_first_name(hub: Path) -> None:
    hub.mkdir(parents=True)
    for name in MIDAS_SMALL.file_names:
        os.symlink(CHECKPOINT, hub / name)
    assert resolve_weights().path == hub / MIDAS_SMALL.file_names[0]


def test_resolve_downloads_then_uses_the_cache(
    hub: Path, server: LocalServer, reference_sha: str
) -> None:
    config = dataclasses.replace(MIDAS_SMALL, url=server.url, sha256_prefix=reference_sha[:8])
    seen: list[int] = []
    first = resolve_weights(config=config, progress=lambda d, t: seen.append(d))
    assert first == ResolvedWeights(hub / MIDAS_SMALL.download_name, "download")
    assert sha256_file(first.path) == reference_sha
    assert seen and seen[-1] == first.path.stat().st_size
    assert resolve_weights(config=config) == ResolvedWeights(first.path, "cache")
    assert server.requests == 1


def test_resolve_offline_says_where_to_put_the_file(hub: Path) -> None:
    config = dataclasses.replace(MIDAS_SMALL, url=_closed_port_url())
    with pytest.raises(WeightsDownloadError) as info:
        resolve_weights(config=config, timeout=5)
    message = str(info.value)
    assert config.url in message and str(hub) in message and "MIDAS_WEIGHTS" in message
    assert not (hub / MIDAS_SMALL.download_name).exists()


def test_resolve_rejects_a_non_config() -> None:
    with pytest.raises(TypeError, match="WeightsConfig"):
        resolve_weights(config={"url": "x"})  # type: ignore[arg-type]
