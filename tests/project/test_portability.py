"""Nothing that core or the app imports is POSIX-only: every module imports as on Windows."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO, WITHOUT_FCNTL

_IMPORT_ALL = WITHOUT_FCNTL + """
import importlib, pkgutil
import core, ui
names = [m.name for pkg in (core, ui) for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")]
for name in names:
    if not name.endswith("__main__"):
        importlib.import_module(name)
print(len(names), "modules")
"""


def test_core_and_ui_import_without_fcntl():
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    count = int(proc.stdout.split()[0])
    assert count > 30  # core.midas.predictor, core.midas.download, core.midas.openvino_backend and the rest
