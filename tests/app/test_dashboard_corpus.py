"""The hostile-input corpus (tests/corpus.py) uploaded on the Depth Explorer through an AppTest.

A refused file must show the decoder's own message in the page, with no exception and
nothing left over from the previous image; a decodable one must show its heatmap at its
own size; and the upload after a refused file must work. Each refused file is therefore
paired with the decodable file uploaded right after it, as a user would try another one.

All corpus items run (about 85 uploads, under two minutes on a 2-core CPU) except the one
whose expectation holds only under a smaller pixel budget than the app's (``max_pixels``).
One AppTest session is shared by the module, so the uploads follow each other like a
user's. Needs the reference checkpoint in ../shared/reference; skips without it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.maps.display import DISPLAY_MAX_WIDTH, fit_width
from core.io.images import ImageDecodeError, decode_image
from tests.conftest import REPO
from tests.corpus import CorpusItem, hostile_corpus
from tests.shown_images import shown_image

DASHBOARD = str(REPO / "dashboard.py")
TIMEOUT = 180  # seconds per run: the first one loads the model

# The uploader accepts these extensions only (ui.image_source.UPLOAD_TYPES); a file of any
# other kind gets one of them, like a user's mislabelled file. The app sniffs the content.
_EXTENSION = {"jpeg": "jpg", "mpo": "jpg", "png": "png", "webp": "webp", "bmp": "bmp", "tiff": "tif"}

_ITEMS = [item for item in hostile_corpus() if item.max_pixels is None]  # the app's budget is the default
_BAD = [item for item in _ITEMS if item.expect_error]
_GOOD = [item for item in _ITEMS if not item.expect_error]
assert len(_GOOD) >= len(_BAD), "every refused file needs a decodable file to follow it"
# (refused, decodable uploaded next) pairs, then the decodable files left over
_CASES = [(bad, good) for bad, good in zip(_BAD, _GOOD)] + [(None, good) for good in _GOOD[len(_BAD):]]


def _file_name(item: CorpusItem) -> str:
    return f"{item.name}.{_EXTENSION.get(item.name.split('-')[0], 'png')}"


@pytest.fixture(scope="module")
def session(reference_weights, tmp_path_factory) -> Iterator[AppTest]:
    """One AppTest on the Depth Explorer, shared by the module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MIDAS_WEIGHTS", str(reference_weights))
        mp.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch")))  # never the user's cache
        at = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
        at.run()
        assert not at.exception, at.exception
        at.switch_page("app_pages/explorer.py").run()
        assert not at.exception, at.exception
        yield at


def _upload(at: AppTest, item: CorpusItem) -> None:
    at.sidebar.file_uploader(key="upload").set_value((_file_name(item), item.data, "application/octet-stream"))
    at.run()


def _image(at: AppTest, caption: str) -> np.ndarray | None:
    found = [im for im in at.image if any(c.startswith(caption) for c in im.captions)]
    return shown_image(found[0].value[0]) if found else None


def _assert_refused(at: AppTest, item: CorpusItem) -> None:
    with pytest.raises(ImageDecodeError) as expected:
        decode_image(item.data)
    assert item.expect_error in str(expected.value), "the corpus and the decoder disagree"
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    assert _file_name(item) in errors[0] and str(expected.value) in errors[0], errors[0]
    assert not at.metric and not at.get("download_button") and not at.image, "something stale is still shown"
    assert at.sidebar.success, "the model panel is still there"


def _assert_shown(at: AppTest, item: CorpusItem) -> None:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    height, width = item.shape
    caption = " ".join(c.value for c in at.caption)
    assert f"**{_file_name(item)}** · {width}×{height} px" in caption, caption
    shown = fit_width(height, width, DISPLAY_MAX_WIDTH)
    heatmap = _image(at, "Heatmap")
    assert heatmap is not None, f"no heatmap; captions: {[im.captions for im in at.image]}"
    assert heatmap.shape == (*shown, 3), f"heatmap {heatmap.shape[:2]}, expected {shown}"
    original = _image(at, "Original")
    assert original is not None and original.shape == heatmap.shape
    # The photo as the user sees it (oriented, converted to RGB). Streamlit sends it as a
    # JPEG, whose 8x8 blocks and halved chroma blend the pixels of a tiny image together.
    if shown == (height, width) and min(height, width) >= 16:
        tolerance = max(item.tolerance, 12)
        for row, col, rgb in item.pixels:
            got = original[row, col].astype(int)
            assert np.abs(got - rgb).max() <= tolerance, f"pixel ({row}, {col}) shows {got.tolist()}, expected {rgb}"
    assert at.metric, "the statistics are shown"


@pytest.mark.parametrize(
    ("bad", "good"),
    _CASES,
    ids=[f"{bad.name}-then-{good.name}" if bad else good.name for bad, good in _CASES],
)
def test_upload_shows_the_decoder_message_or_the_heatmap(session, bad: CorpusItem | None, good: CorpusItem) -> None:
    at = session
    if bad is not None:
        _upload(at, bad)
        _assert_refused(at, bad)
    _upload(at, good)
    _assert_shown(at, good)
