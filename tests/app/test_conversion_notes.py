"""What decoding and the network's resize change in a photo is said on the page (issue 11, finding 14).

A 20×20 PNG with transparency used to be composited on white and enlarged to a 256×256 network
input without a word. The words come from core (``ImageInfo.conversions`` and
``core.midas.transforms.upscaling_note``, tested here on hand-made headers) and the pages show them.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.io.images import ImageInfo, probe_image
from core.midas.transforms import upscaling_note
from tests.shown_images import shown_image
from tests.app.test_dashboard import app, image_by_caption, upload  # noqa: F401 - fixtures


def _png(mode: str, size: tuple[int, int]) -> bytes:
    im = Image.new(mode, size)
    if mode == "RGBA":
        im.putdata([(200, 30, 30, 255 if (i % size[0]) < size[0] // 2 else 0) for i in range(size[0] * size[1])])
    buffer = io.BytesIO()
    im.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("RGB", []),
        ("RGBA", ["its transparent pixels were composited on white"]),
        ("LA", ["its transparent pixels were composited on white"]),
        ("I;16", ["its 16-bit gray levels were stretched to 8 bits"]),
    ],
)
def test_probe_names_what_decoding_changes(mode: str, expected: list[str]) -> None:
    assert probe_image(_png(mode, (8, 6))).conversions == expected


def test_a_palette_png_with_a_transparent_color_counts_as_transparent() -> None:
    im = Image.new("P", (4, 4))
    buffer = io.BytesIO()
    im.save(buffer, "PNG", transparency=0)
    assert probe_image(buffer.getvalue()).transparent


@pytest.mark.parametrize(
    ("hw", "size", "expected"),
    [
        ((20, 20), 256, "at 20×20 px it was enlarged 12.8× to the 256×256 network input"),
        ((100, 400), 256, None),  # 256×64: smaller than the photo on both sides
        ((100, 100), 256, "at 100×100 px it was enlarged 2.6× to the 256×256 network input"),
        ((480, 640), 256, None),
        ((256, 256), 256, None),
        ((480, 640), 512, None),
        ((480, 640), 1024, "at 640×480 px it was enlarged 1.6× to the 1024×768 network input"),
    ],
)
def test_upscaling_note(hw: tuple[int, int], size: int, expected: str | None) -> None:
    note = upscaling_note(*hw, size)
    assert note == expected if expected is None else note.startswith(expected)


def test_the_page_says_a_tiny_transparent_png_was_composited_and_enlarged(app: AppTest) -> None:
    app.switch_page("app_pages/explorer.py").run()
    upload(app, "icon.png", _png("RGBA", (20, 20)))
    assert not app.exception, app.exception
    notes = [i.value for i in app.info if i.value.startswith("**icon.png**")]
    assert notes == [
        "**icon.png**: its transparent pixels were composited on white; at 20×20 px it was enlarged 12.8× "
        "to the 256×256 network input, so the depth map has no detail finer than the photo."
    ]
    shown = shown_image(image_by_caption(app, "Original").value[0])
    assert np.all(shown[:, -1] >= 245)  # the transparent half is white, as the note says


def test_an_ordinary_photo_gets_no_note(app: AppTest) -> None:
    app.switch_page("app_pages/explorer.py").run()
    assert not [i.value for i in app.info if i.value.startswith("**Coffee cup**")]


def test_info_conversions_example_holds_for_a_hand_made_header() -> None:
    assert ImageInfo("PNG", 20, 20, "F").conversions == ["its high-precision gray levels were stretched to 8 bits"]
