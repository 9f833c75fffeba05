"""The README's two commands are the ones CI runs: the README cannot drift from .ci/run."""
from __future__ import annotations

import re

from tests.conftest import REPO


def _readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)
    return [b.strip() for b in blocks[:2]]


def test_readme_opens_with_app_and_test_commands():
    app, tests = _readme_commands()
    assert app.startswith("python3 -m venv .venv") and app.endswith("streamlit run dashboard.py")
    assert tests.startswith("python3 -m venv .venv") and "pytest" in tests


def test_ci_runs_the_readme_test_command_verbatim():
    _, tests = _readme_commands()
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert tests in ci_lines
