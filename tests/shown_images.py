"""Read back an image a page showed, from the URL an AppTest's ``st.image`` element holds.

Every page sends its images inline, as ``data:`` URLs (ui/inline_image.py), so the picture
travels in the element itself and a test reads exactly the bytes the browser would draw. A
``/media/…`` URL here means a page bypassed :func:`ui.inline_image.data_url`: that is a
failure, because such a file can go stale between runs (issue 11, finding 15).
"""
from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

__all__ = ["shown_image"]


def shown_image(url: str) -> np.ndarray:
    """The HxWx3 uint8 RGB pixels of a shown image's ``data:`` URL."""
    assert url.startswith("data:image/"), f"an image was sent as {url[:40]!r}, not through ui.inline_image.data_url"
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as image:
        return np.asarray(image.convert("RGB"))
