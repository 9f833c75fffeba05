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

from core.depth import DepthHistogram, DepthStats, summarize
from core.display import DISPLAY_MAX_WIDTH, downscale
from core.exports import jpeg_bytes
from core.image_io import decode_image
from core.predictor import Prediction, Predictor, load_predictor
from ui.conversion_progress import load_showing_conversion

__all__ = ["PERCENTILES", "decode", "display_arrays", "get_predictor", "photo_jpeg", "predict", "summary"]

#: Percentiles shown in the stats; the clipping handles use the histogram instead.
PERCENTILES: tuple[float, ...] = (1, 5, 25, 50, 75, 95, 99)

_HIST_BINS = 4096  # percentiles and probe percentages accurate to 1/4096 of the range


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
        core.image_io.ImageDecodeError: not a usable image (never cached).
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
        core.concurrency.InferenceBusyError: no slot freed up in time (never cached).
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


@st.cache_data(max_entries=6, show_spinner=False)
def summary(digest: str, size: int, weights_sha256: str, _depth: np.ndarray) -> tuple[DepthStats, DepthHistogram]:
    """Statistics and a fine histogram of the full-resolution map, in one sweep of it."""
    del digest, size, weights_sha256  # only cache keys
    return summarize(_depth, PERCENTILES, bins=_HIST_BINS)


@st.cache_data(max_entries=6, show_spinner=False)
def display_arrays(
    digest: str, size: int, weights_sha256: str, _rgb: np.ndarray, _prediction: Prediction
) -> tuple[np.ndarray, np.ndarray]:
    """The photo and its map at most ``DISPLAY_MAX_WIDTH`` columns wide, for the screen.

    The photo is area-averaged; the map is resampled from the raw network output at that
    size (the same bicubic surface as the full-resolution map, without shrinking it).
    """
    del digest, size, weights_sha256  # only cache keys
    rgb_small = downscale(_rgb, DISPLAY_MAX_WIDTH)
    return rgb_small, _prediction.depth_at(*rgb_small.shape[:2])


@st.cache_data(max_entries=6, show_spinner=False)
def photo_jpeg(digest: str, _rgb_small: np.ndarray) -> bytes:
    """The display-size photo as JPEG bytes, encoded once per image, not on every view change."""
    del digest  # only a cache key
    return jpeg_bytes(_rgb_small)
