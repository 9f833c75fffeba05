"""The locks (requirements*.txt) agree with their inputs (requirements*.in).

The README's two commands install the locks; the inputs hold the direct dependencies and the
ranges we accept. A dependency added to an input without regenerating its lock, a pin that has
left its range, or a lock line that is not an exact pin fails here. The README's "Upgrading the
lock" command regenerates both.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PAIRS = [("requirements.in", "requirements.txt"), ("requirements-dev.in", "requirements-dev.txt")]


def _lines(path: Path) -> list[str]:
    """Requirement lines of a pip requirements file, without comments and continuations."""
    out = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def _inputs(name: str) -> list[Requirement]:
    """The direct requirements of an input file, following its ``-r`` includes."""
    reqs: list[Requirement] = []
    for line in _lines(ROOT / name):
        if line.startswith("-r "):
            reqs += _inputs(line[3:].strip())
        else:
            reqs.append(Requirement(line))
    return reqs


def _lock(name: str) -> list[Requirement]:
    return [Requirement(line) for line in _lines(ROOT / name)]


def _pins(name: str, env: dict[str, str] | None = None) -> dict[str, list[str]]:
    """name -> the versions the lock pins for ``env`` (for every platform when None)."""
    pins: dict[str, list[str]] = {}
    for req in _lock(name):
        if env is None or req.marker is None or req.marker.evaluate(env):
            pins.setdefault(canonicalize_name(req.name), []).append(next(iter(req.specifier)).version)
    return pins


@pytest.mark.parametrize("lock", [lock for _, lock in PAIRS])
def test_every_lock_line_is_an_exact_pin(lock: str) -> None:
    for req in _lock(lock):
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{lock}: {req} is not pinned with =="
        assert not req.url and not req.extras, f"{lock}: {req} must be a plain pin"


# The platforms the README promises, as pip sees them (Python 3.11).
PLATFORMS = {
    "linux-x86_64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix"},
    "macos-arm64": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64", "os_name": "posix"},
    "windows-amd64": {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64", "os_name": "nt"},
}


def _env(platform: str) -> dict[str, str]:
    env = dict(default_environment())
    env.update(PLATFORMS[platform], python_version="3.11", python_full_version="3.11.7", implementation_name="cpython")
    return env


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
@pytest.mark.parametrize(("source", "lock"), PAIRS)
def test_lock_pins_every_input_within_its_range(source: str, lock: str, platform: str) -> None:
    env = _env(platform)
    pins = _pins(lock, env)
    for name, versions in pins.items():
        assert len(versions) == 1, f"{lock} pins {name} twice on {platform}: {versions}"
    for req in _inputs(source):
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        name = canonicalize_name(req.name)
        assert name in pins, f"{source} asks for {req}, but {lock} does not pin it on {platform}: regenerate the lock"
        (version,) = pins[name]
        assert req.specifier.contains(version, prereleases=True), (
            f"{lock} pins {name}=={version}, outside {source}'s {req.specifier}: regenerate the lock"
        )


def test_torch_pins_stay_and_no_cuda_package_reaches_windows_or_macos() -> None:
    for platform in ("macos-arm64", "windows-amd64"):
        pins = _pins("requirements-dev.txt", _env(platform))
        assert pins["torch"] == ["2.14.1"] and pins["torchvision"] == ["0.29.1"]
        gpu_only = sorted(n for n in pins if n.startswith(("nvidia-", "cuda-")) or n == "triton")
        assert not gpu_only, f"{platform} would install Linux-only CUDA packages: {gpu_only}"


def test_app_lock_is_the_dev_lock_without_the_test_tools() -> None:
    app, dev = _pins("requirements.txt"), _pins("requirements-dev.txt")
    assert {n: v for n, v in dev.items() if n in app} == app, "the two locks pin a shared package differently"
    test_only = {canonicalize_name(r.name) for r in _inputs("requirements-dev.in")} - {
        canonicalize_name(r.name) for r in _inputs("requirements.in")
    }
    assert test_only and not test_only & set(app), f"the app lock installs test-only tools: {test_only & set(app)}"
