"""The dashboard's caches: the predictor is a shared resource, results are cached data.

Every data cache is keyed on the SHA-256 of the image bytes plus the parameters that
change the result (network size N, SHA-256 of the weights). Arrays are passed as
``_``-prefixed arguments, which Streamlit does not hash: hashing a large array samples
it, so two photos that differ in one pixel could share an entry.

Memory: a 12-megapixel photo costs about 36 MB decoded and 48 MB of float32 depth. The
``max_entries`` below bound the caches to a few photos' worth for the whole server.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.maps.stats import DepthHistogram, DepthStats, summarize
from core.io.exports import jpeg_bytes
from core.io.images import decode_image
from core.geometry.intrinsics import FieldOfView, fov_from_exif
from core.midas.predictor import Prediction, Predictor, load_predictor
from core.maps import view as _view
from core.maps.view import HISTOGRAM_BINS, SUMMARY_PERCENTILES
from core.midas.inference_gate import InferenceGate
from core.teaching import ground_truth_report as _gt_report
from core.teaching import network_anatomy as _anatomy
from core.teaching import network_receptive_field as _rf
from ui.conversion_progress import load_showing_conversion

__all__ = [
    "decode",
    "display_arrays",
    "exif_fov",
    "get_predictor",
    "ground_truth_report",
    "kept_bytes",
    "network_influence",
    "network_inspector",
    "network_run",
    "orbit_video",
    "photo_jpeg",
    "predict",
    "summary",
]


@st.cache_resource(max_entries=4, show_spinner="Loading MiDaS v2.1 small…")
def get_predictor(weights_path: str, weights_mtime_ns: int, size: int) -> Predictor:
    """One predictor per (weights file, network size), shared by every session.

    The backend is ``"auto"``: OpenVINO when it is installed and passes its self-check
    against torch, else torch (``info.backend_note`` says why; the sidebar shows it).
    The first load on a machine converts the model once, with a progress bar.
    ``weights_mtime_ns`` is part of the key so that a replaced file is loaded again.
    """
    del weights_mtime_ns  # only a cache key
    return load_showing_conversion(
        lambda status: load_predictor(weights=weights_path, size=size, backend="auto", status=status)
    )


@st.cache_data(max_entries=6, show_spinner=False)
def decode(digest: str, _data: bytes) -> np.ndarray:
    """Decode image bytes (keyed on their SHA-256) to HxWx3 uint8 RGB.

    Raises:
        core.io.images.ImageDecodeError: not a usable image (never cached).
    """
    del digest  # only a cache key
    return decode_image(_data)


@st.cache_data(max_entries=6, show_spinner="Predicting relative inverse depth…")
def predict(
    digest: str, size: int, weights_sha256: str, _predictor: Predictor, _rgb: np.ndarray
) -> Prediction:
    """Run the network once per (image bytes, network size, weights).

    The predictor lets only a few inferences run at once (``K * threads <= cores``).
    While this one waits for a slot, a "Queued: N ahead of you…" notice stands where the
    call was made, and goes away when the prediction is done.

    The notice is created inside this function on purpose: Streamlit replays on every
    cache hit the elements a cached function drew, and an element drawn into a container
    made outside the function breaks that replay (``CacheReplayClosureError``). Made
    here, a hit replays what the first call drew, ending with the emptied notice: nothing
    shows.

    Raises:
        core.midas.inference_gate.InferenceBusyError: no slot freed up in time (never cached).
    """
    del digest, size, weights_sha256  # only cache keys
    notice = st.empty()

    def queued(ahead: int) -> None:  # called on this script thread, before it waits
        notice.info(
            f"Queued: {ahead} ahead of you… The server runs only a few predictions at once; "
            "yours starts by itself, no need to click again.",
            icon=":material/hourglass_top:",
        )

    try:
        return _predictor.run(_rgb, on_queued=queued)
    finally:
        notice.empty()


@st.cache_data(max_entries=16, show_spinner=False)
def exif_fov(digest: str, _data: bytes) -> FieldOfView:
    """The field of view the photo's EXIF gives (or the default, with why), read once per image."""
    del digest  # only a cache key
    return fov_from_exif(_data)


@st.cache_data(max_entries=6, show_spinner=False)
def summary(digest: str, size: int, weights_sha256: str, _depth: np.ndarray) -> tuple[DepthStats, DepthHistogram]:
    """Statistics and a fine histogram of the full-resolution map, in one sweep of it."""
    del digest, size, weights_sha256  # only cache keys
    return summarize(_depth, SUMMARY_PERCENTILES, bins=HISTOGRAM_BINS)


@st.cache_data(max_entries=6, show_spinner=False)
def display_arrays(
    digest: str, size: int, weights_sha256: str, _rgb: np.ndarray, _prediction: Prediction
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`core.maps.view.display_arrays`, once per photo, network size and weights."""
    del digest, size, weights_sha256  # only cache keys
    return _view.display_arrays(_rgb, _prediction)


@st.cache_data(max_entries=6, show_spinner=False)
def photo_jpeg(digest: str, _rgb_small: np.ndarray) -> bytes:
    """The display-size photo as JPEG bytes, encoded once per image, not on every view change."""
    del digest  # only a cache key
    return jpeg_bytes(_rgb_small)


@st.cache_data(max_entries=4, show_spinner=False)
def kept_bytes(digest: str, _data: bytes | None = None) -> bytes:
    """An uploaded ground-truth file by its SHA-256, so that a visit to another page does not lose it.

    Called with the bytes when a file is uploaded; later with the digest alone. Raises
    KeyError (never cached) when the entry has been evicted: the page then asks again.
    """
    del digest  # only a cache key
    if _data is None:
        raise KeyError("the ground-truth file is no longer in memory")
    return _data


@st.cache_data(max_entries=4, show_spinner="Aligning and scoring…")
def ground_truth_report(
    digest: str, size: int, weights_sha256: str, gt_digest: str, unit: str, _depth: np.ndarray, _gt_m: np.ndarray
) -> _gt_report.GroundTruthReport:
    """The Evaluate page's report, cached per (photo, network size, weights, ground-truth file, unit)."""
    del digest, size, weights_sha256, gt_digest, unit  # only cache keys
    return _gt_report.ground_truth_report(_depth, _gt_m)


# ---- Inside the Network (issue 15): a private copy of the network, its hooked pass and gradients


@st.cache_resource(max_entries=2, show_spinner="Copying the network for a look inside…")
def network_inspector(weights_path: str, weights_sha256: str, _gate: InferenceGate) -> _anatomy.NetworkInspector:
    """A private copy of MiDaS small per weights file, shared by the students of the Inside the Network page.

    Hooks and backward passes run only on this copy, never on :func:`get_predictor`'s network;
    each pass holds a slot of ``_gate`` (the predictor's inference gate), so it queues like a prediction.
    """
    del weights_sha256  # only a cache key
    return _anatomy.NetworkInspector.from_weights(weights_path, gate=_gate)


@st.cache_data(max_entries=2, show_spinner="Running the network with hooks on every block…")
def network_run(
    digest: str, size: int, weights_sha256: str, _inspector: _anatomy.NetworkInspector, _rgb: np.ndarray
) -> _anatomy.NetworkRun:
    """One hooked forward pass per (image bytes, network size, weights): shapes, FLOPs, times, activations.

    Raises:
        core.midas.inference_gate.InferenceBusyError: no inference slot in time (never cached).
    """
    del digest, weights_sha256  # only cache keys
    return _inspector.run(_rgb, size)


@st.cache_data(max_entries=16, show_spinner="One backward pass through the network…")
def network_influence(
    digest: str, size: int, weights_sha256: str, x: int, y: int, _inspector: _anatomy.NetworkInspector,
    _net_input: np.ndarray,
) -> np.ndarray:
    """hxw influence of every input pixel on output pixel (x, y): one backward pass per click, then cached.

    Raises:
        core.midas.inference_gate.InferenceBusyError: no inference slot in time (never cached).
    """
    del digest, size, weights_sha256  # only cache keys
    return _rf.influence_map(_inspector.gradient(_net_input, y=y, x=x))


# issue 14: the Stereo and 3D Photo page's orbit preview
@st.cache_data(max_entries=2, show_spinner="Rendering the orbit video…")
def orbit_video(
    digest: str, size: int, weights_sha256: str, strength_pct: float, convergence: float, fill: str,
    max_width: int, _rgb: np.ndarray, _depth: np.ndarray,
) -> bytes:
    """:func:`core.video.photo3d.orbit_mp4_bytes` once per photo, network size, weights and settings."""
    from core.video.photo3d import orbit_mp4_bytes  # PyAV imported only for this page

    del digest, size, weights_sha256  # only cache keys
    return orbit_mp4_bytes(_rgb, _depth, strength_pct, convergence, fill=fill, max_width=max_width)
