"""Shared fixtures: the offline reference data in ../shared/reference and a predictor built on it."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
REFERENCE_DIR = REPO.parent / "shared" / "reference"
REFERENCE_WEIGHTS = REFERENCE_DIR / "midas_small_random.pt"
REFERENCE_MANIFEST = REFERENCE_DIR / "manifest.json"

# The first lines of a child-process script that must run as on Windows: `import fcntl` raises
# ImportError there (filelock then warns that it falls back to a soft lock on this POSIX host).
WITHOUT_FCNTL = (
    "import sys, warnings\n"
    "sys.modules['fcntl'] = None\n"
    "warnings.filterwarnings('ignore', 'only soft file lock is available')\n"
)


def skip_module_without_checkpoint() -> None:
    """Skip the calling test module (at import) when the reference checkpoint or manifest is absent."""
    if not (REFERENCE_WEIGHTS.is_file() and REFERENCE_MANIFEST.is_file()):
        pytest.skip(
            f"the reference checkpoint and manifest are missing from {REFERENCE_DIR}; "
            "these tests need ../shared/reference next to the repository",
            allow_module_level=True,
        )


def _require_reference() -> Path:
    if not (REFERENCE_DIR / "golden.npz").is_file() or not REFERENCE_WEIGHTS.is_file():
        pytest.skip(f"reference data not found at {REFERENCE_DIR}: golden tests need ../shared/reference")
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def reference_weights() -> Path:
    _require_reference()
    return REFERENCE_WEIGHTS


@pytest.fixture(scope="session")
def manifest() -> dict:
    return json.loads((_require_reference() / "manifest.json").read_text())


@pytest.fixture(scope="session")
def golden() -> dict[str, np.ndarray]:
    with np.load(_require_reference() / "golden.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="session", autouse=True)
def fast_cache(tmp_path_factory) -> Path:
    """One fast-backend (OpenVINO) cache for the whole session, never the user's.

    Exported as ``MIDAS_FAST_CACHE`` so that the dashboard, the CLI and every test server
    started as a subprocess share it: whichever runs first converts the model, once.
    """
    from core.midas.openvino_backend import CACHE_ENV_VAR

    cache = tmp_path_factory.getbasetemp() / "midas_fast_cache"
    mp = pytest.MonkeyPatch()
    mp.setenv(CACHE_ENV_VAR, str(cache))
    yield cache
    mp.undo()


@pytest.fixture(scope="session")
def predictor(reference_weights):
    from core.midas.predictor import load_predictor

    return load_predictor(weights=reference_weights)


@pytest.fixture(scope="session")
def app_predictor(reference_weights, fast_cache):
    """The predictor the dashboard builds (backend "auto"): expected values are the app's, bit for bit."""
    from core.midas.predictor import load_predictor

    return load_predictor(weights=reference_weights, backend="auto")


def golden_case_names() -> list[str]:
    """Case names for parametrisation, read without failing when the reference is absent."""
    path = REFERENCE_DIR / "manifest.json"
    if not path.is_file():
        return ["reference-missing"]
    return [c["name"] for c in json.loads(path.read_text())["cases"]]


def assert_close_to_max(actual: np.ndarray, expected: np.ndarray, rel: float = 1e-3) -> float:
    """Assert ``max|actual - expected| <= rel * max(expected)`` and return the relative error."""
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    assert np.isfinite(actual).all()
    err = float(np.abs(actual.astype(np.float64) - expected).max() / np.abs(expected).max())
    assert err <= rel, f"max error {err:.2e} of the maximum exceeds {rel:.0e}"
    return err
