"""The sidebar's image section, shared by every page: upload, camera or a bundled sample.

The most recent choice wins: uploading a photo selects it, picking a sample selects the
sample, taking a camera photo selects that. The camera widget exists only after the user
turns on its toggle, so the browser never asks for the camera by default. Only small
things go into ``st.session_state`` (which source is active, a file id and its digest);
the image bytes stay in the widgets and in the sample files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import streamlit as st

__all__ = ["SAMPLES", "SAMPLES_DIR", "UPLOAD_TYPES", "ImageChoice", "image_source_panel", "selected_image"]

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "samples"

#: Sample title -> file in samples/ (licences in samples/LICENSES.md).
SAMPLES: dict[str, str] = {
    "Coffee cup": "coffee.png",
    "Chelsea the cat": "chelsea.png",
    "Rocket launch": "rocket.jpg",
    "Grace Hopper": "grace_hopper.jpg",
}

UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif"]

_SOURCE = "image_source"  # session key: "sample", "upload" or "camera"
_DIGESTS = "image_digests"  # session key: {file_id: sha256} for the current widget files


@dataclass(frozen=True, eq=False)
class ImageChoice:
    """The encoded image the pages should use.

    Attributes:
        name: What to call it in the UI (file name or sample title).
        kind: "sample", "upload" or "camera".
        data: The encoded bytes (decoded by core.io.images.decode_image).
        digest: SHA-256 of ``data``, the cache key.
    """

    name: str
    kind: str
    data: bytes
    digest: str


def _show(kind: str) -> None:
    """Make ``kind`` the active source; the sample picker shows a sample only while one is shown.

    So the picker never names a sample that is not on screen, and picking any sample after an
    upload or a camera photo is a change, which takes effect.
    """
    st.session_state[_SOURCE] = kind
    st.session_state["sample"] = (st.session_state.get("sample") or next(iter(SAMPLES))) if kind == "sample" else None


def _fallback() -> str:
    """The source to show when the active one goes away: the upload if there is one, else a sample."""
    return "upload" if st.session_state.get("upload") is not None else "sample"


def _after_upload_change() -> None:
    _show("upload" if st.session_state.get("upload") is not None else "sample")


def _after_camera_change() -> None:
    _show("camera" if st.session_state.get("camera") is not None else _fallback())


def _after_camera_toggle() -> None:
    if not st.session_state.get("camera_on") and st.session_state.get(_SOURCE) == "camera":
        _show(_fallback())


def image_source_panel() -> None:
    """Draw the image controls (call inside ``st.sidebar``)."""
    st.markdown("### Image")
    st.file_uploader(
        "Upload a photo",
        type=UPLOAD_TYPES,
        key="upload",
        on_change=_after_upload_change,
        help="JPEG, PNG, WebP, BMP, TIFF or GIF. JPEGs above 40 MP are decoded at 1/2 or 1/4 scale; "
        "other images above 40 MP are refused with a message.",
    )
    st.selectbox("…or pick a sample", options=list(SAMPLES), key="sample", on_change=_show, args=("sample",),
                 placeholder="Pick a sample")
    if st.toggle("Use the camera", key="camera_on", on_change=_after_camera_toggle,
                 help="Off by default, so the browser does not ask for the camera."):
        st.camera_input("Take a photo", key="camera", on_change=_after_camera_change)
    choice = selected_image()
    if choice is not None:
        st.caption(f"Showing: **{choice.name}** ({choice.kind})")


def selected_image() -> ImageChoice | None:
    """The image the user chose last, or None when there is nothing to show."""
    preferred = st.session_state.get(_SOURCE, "sample")
    if preferred == "camera" and st.session_state.get("camera_on"):
        photo = st.session_state.get("camera")
        if photo is not None:
            return ImageChoice("camera photo", "camera", photo.getvalue(), _file_digest(photo))
    if preferred in ("camera", "upload"):  # no photo taken yet: the upload, if any, is next
        upload = st.session_state.get("upload")
        if upload is not None:
            return ImageChoice(upload.name, "upload", upload.getvalue(), _file_digest(upload))
    title = st.session_state.get("sample") or next(iter(SAMPLES))
    try:
        data, digest = _sample(SAMPLES[title])
    except OSError:  # the samples folder is missing from this install
        return None
    return ImageChoice(title, "sample", data, digest)


def _file_digest(uploaded) -> str:
    """SHA-256 of an uploaded file, computed once per file id."""
    digests: dict[str, str] = st.session_state.setdefault(_DIGESTS, {})
    if uploaded.file_id not in digests:
        digests.clear()  # keep only the current files' digests: the state stays small
        digests[uploaded.file_id] = hashlib.sha256(uploaded.getvalue()).hexdigest()
    return digests[uploaded.file_id]


@lru_cache(maxsize=len(SAMPLES))
def _sample(file_name: str) -> tuple[bytes, str]:
    data = (SAMPLES_DIR / file_name).read_bytes()
    return data, hashlib.sha256(data).hexdigest()
