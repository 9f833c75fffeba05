"""ui.warmup: after the one-time imports, sessions running in parallel no longer race on pandas.

The race it prevents, reproduced without Streamlit running: threads that build a Plotly
figure (Plotly imports pandas if it can) while others convert a table for ``st.dataframe``
(which imports pandas too) on a fresh interpreter. Without the warm-up about two runs in
three end with "partially initialized module 'pandas' has no attribute 'Series'" on this
machine; each run here is a fresh interpreter, so the race gets several chances.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

_RACE = """
import sys, threading
if sys.argv[1] == "warm":
    from ui.warmup import import_heavy_modules
    import_heavy_modules()
import numpy as np
import streamlit.dataframe_util as dataframe_util
import plotly.graph_objects as go
import plotly.io as pio

errors, start = [], threading.Barrier(8)

def session(i):
    start.wait()
    try:
        if i % 2:
            dataframe_util.convert_anything_to_arrow_bytes({"p50": ["0.5"]})
        else:
            pio.to_json(go.Figure(go.Bar(x=np.arange(10), y=np.arange(10))))
    except Exception as e:
        errors.append(repr(e))

threads = [threading.Thread(target=session, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join(60)
print(len(errors), errors[:1])
"""


@pytest.mark.parametrize("attempt", range(3))
def test_parallel_first_use_of_pandas_after_the_warm_up_has_no_half_imported_module(attempt: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _RACE, "warm"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stdout
