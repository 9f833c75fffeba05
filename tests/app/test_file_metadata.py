"""The Depth Explorer's downloads, in headless Chromium, say what they hold (issue 14, item 4).

Downloads every depth file of the Explorer as a user does and reads its fields back: Pillow for
the PNGs, the sidecar for the .npy, ``describe`` for all; PFM and OpenEXR hold the .npy's floats.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from core.io.describe import describe_file
from core.io.float_maps import read_exr, read_pfm
from core.io.metadata import read_sidecar
from core.midas.download import sha256_file
from tests.browser_support import UI_TIMEOUT, download, full_page_screenshot, go_to, wait_idle
from tests.conftest import REPO

pytestmark = pytest.mark.browser

PHOTO = REPO / "samples" / "grace_hopper.jpg"


def test_explorer_downloads_state_their_fields(page, tmp_path, reference_weights) -> None:
    go_to(page, "Depth Explorer")
    page.locator('[data-testid="stSidebar"] input[type="file"]').first.set_input_files(str(PHOTO))
    page.get_by_text("(upload)").wait_for(timeout=UI_TIMEOUT)
    wait_idle(page, UI_TIMEOUT)
    page.locator('[data-testid="stImage"]').filter(has_text=re.compile("^Heatmap ·")).wait_for(timeout=UI_TIMEOUT)
    page.get_by_role("button", name="OpenEXR (float32)").scroll_into_view_if_needed()
    full_page_screenshot(page, "explorer_downloads_metadata")
    labels = ("Raw float32 .npy", "The .npy's sidecar (.json)", "16-bit PNG", "Heatmap PNG", "Side-by-side PNG",
              "PFM (float32)", "OpenEXR (float32)")
    files = {label: download(page, label, tmp_path) for label in labels}
    assert files["The .npy's sidecar (.json)"].name == files["Raw float32 .npy"].name + ".json"

    depth = np.load(files["Raw float32 .npy"], allow_pickle=False)
    sha = sha256_file(reference_weights)
    common = {"weights_sha256": sha, "network_size": "256", "source_size": f"{depth.shape[1]}x{depth.shape[0]}"}
    for label in ("16-bit PNG", "Heatmap PNG", "Side-by-side PNG"):
        with Image.open(files[label]) as im:
            text = dict(im.text)
        assert {k: text[k] for k in common} == common, label
        assert text["content"] == "relative inverse depth" and text["units"] == "unitless"
    with Image.open(files["16-bit PNG"]) as im:
        assert (float(im.text["value_at_0"]), float(im.text["value_at_max"])) == (float(depth.min()), float(depth.max()))
    record = read_sidecar(files["The .npy's sidecar (.json)"].read_bytes())
    assert record["weights_sha256"] == sha and record["shape"] == f"{depth.shape[0]}x{depth.shape[1]}"

    assert read_pfm(files["PFM (float32)"].read_bytes())[0].tobytes() == depth.tobytes()
    channels, header = read_exr(files["OpenEXR (float32)"].read_bytes())
    assert channels["Y"].tobytes() == depth.tobytes() and header["weights_sha256"] == sha
    for label in ("Raw float32 .npy", "16-bit PNG", "OpenEXR (float32)"):  # the .npy finds its sidecar
        fields = describe_file(files[label])
        assert {k: fields[k] for k in common} == common, label
