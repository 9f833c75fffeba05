"""Images for ``st.image`` as ``data:`` URLs, carried inside the page's own message.

Why: ``st.image`` of bytes or an array stores a file under ``/media/…`` that the browser
fetches afterwards, and Streamlit deletes it once a later run no longer shows it. With quick
clicks (a slider step while a fragment is still rerunning, a new network size) the browser
could ask for a file that a newer run had already deleted: a 404 in its console and, for a
moment, a broken image. An image inside the message cannot go stale, so every page shows its
images through :func:`data_url`.
"""

from __future__ import annotations

import base64

import numpy as np

from core.io.exports import png_bytes

__all__ = ["data_url"]

_MIME = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG": "image/png", b"GIF8": "image/gif"}


def data_url(image: bytes | np.ndarray) -> str:
    """A ``data:`` URL for ``st.image``.

    Args:
        image: JPEG, PNG or GIF file contents (sent as they are), or an HxWx3 uint8 RGB or HxW
            uint8/uint16 array, or a float one in [0, 1] (scaled to 8 bits); arrays are sent as
            lossless PNGs, so colours and bands stay exact.
    """
    if isinstance(image, np.ndarray):
        if image.dtype.kind == "f":
            image = np.rint(np.clip(image.astype(np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)  # as core.teaching.pitfalls.grey_levels
        image = png_bytes(image)
    if not isinstance(image, bytes):
        raise TypeError(f"image must be JPEG/PNG/GIF bytes or a numpy array, got {type(image).__name__}")
    mime = next((m for magic, m in _MIME.items() if image.startswith(magic)), None)
    if mime is None:
        raise ValueError("image bytes must be a JPEG, PNG or GIF file; encode others with core.io.exports first")
    return f"data:{mime};base64,{base64.b64encode(image).decode('ascii')}"
