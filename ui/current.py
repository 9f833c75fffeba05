"""The one call a page makes to get the current image and its prediction.

    from ui.current import current_prediction

    current = current_prediction()
    if current is None:
        st.stop()  # a prompt or an error is already on the page
    st.image(current.rgb)

Decoding and inference go through the caches in :mod:`ui.cache`, so switching pages,
moving a slider or changing a colormap never runs the network again; only a new image,
a new network size or new weights do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from core.midas.inference_gate import InferenceBusyError
from core.maps.stats import DepthHistogram, DepthStats
from core.io.images import ImageDecodeError, probe_image
from core.midas.predictor import Prediction, Predictor, PredictorInfo
from core.midas.transforms import upscaling_note
from ui import cache
from ui.image_source import ImageChoice, selected_image
from ui.model_status import loaded_predictor

__all__ = ["CurrentPrediction", "current_prediction", "predict_or_explain"]

_LAST = "last_prediction"  # session key read by ui.model_status.show_last_prediction


@dataclass(frozen=True, eq=False)
class CurrentPrediction:
    """The current image and everything the pages show about it.

    Attributes:
        name: What the UI calls the image.
        kind: "sample", "upload" or "camera".
        digest: SHA-256 of the encoded image bytes.
        rgb: HxWx3 uint8, full resolution (for downloads and the point cloud).
        prediction: Every stage of the prediction; ``prediction.depth`` is the HxW float32
            relative inverse depth at full resolution (larger = nearer, unitless).
        info: The predictor that made it (weights, SHA-256, network size N, threads).
    """

    name: str
    kind: str
    digest: str
    rgb: np.ndarray
    prediction: Prediction
    info: PredictorInfo

    @property
    def depth(self) -> np.ndarray:
        """HxW float32 relative inverse depth at full resolution."""
        return self.prediction.depth

    @property
    def net_hw(self) -> tuple[int, int]:
        """(h, w) of the network input."""
        return int(self.prediction.net_input.shape[2]), int(self.prediction.net_input.shape[3])

    def _key(self) -> tuple[str, int, str]:
        return self.digest, self.info.size, self.info.sha256

    def display(self) -> tuple[np.ndarray, np.ndarray]:
        """(rgb, depth) shrunk to at most ``DISPLAY_MAX_WIDTH`` columns for the screen."""
        return cache.display_arrays(*self._key(), self.rgb, self.prediction)

    def photo_jpeg(self, rgb_small: np.ndarray) -> bytes:
        """``rgb_small`` (the photo of :meth:`display`) as JPEG bytes, encoded once per image."""
        return cache.photo_jpeg(self.digest, rgb_small)

    def summary(self) -> tuple[DepthStats, DepthHistogram]:
        """Statistics and a 4096-bin histogram of the full-resolution map."""
        return cache.summary(*self._key(), self.depth)


def current_prediction(*, show_prompt: bool = True) -> CurrentPrediction | None:
    """The current image and its prediction, or None with a message on the page.

    Args:
        show_prompt: Write why there is nothing (no image, unreadable file, no model).

    Returns:
        None when no image is chosen, the file cannot be decoded (the decoder's message
        is shown with ``st.error``), the model is not loaded (see the sidebar) or the
        server stayed too busy to start the prediction in time (``st.error`` and a
        "Try again" button; the rest of the session carries on).
    """
    choice: ImageChoice | None = selected_image()
    if choice is None:
        if show_prompt:
            st.info("Pick a sample or upload a photo in the sidebar to start.", icon=":material/arrow_back:")
        return None
    try:
        rgb = cache.decode(choice.digest, choice.data)
        header = probe_image(choice.data)  # header only: what decoding changed
    except ImageDecodeError as e:
        if show_prompt:
            st.error(f"**{choice.name}** cannot be used. {e}", icon=":material/block:")
            st.caption("Choose another file, or pick a sample in the sidebar: the rest of the app keeps working.")
        return None
    predictor = loaded_predictor()
    if predictor is None:
        if show_prompt:
            st.warning("The model is not loaded: the **Model** section of the sidebar says what to do.", icon=":material/warning:")
        return None
    notes = [*header.conversions, upscaling_note(*rgb.shape[:2], predictor.size)]
    if show_prompt and any(notes):
        st.info(f"**{choice.name}**: " + "; ".join(n for n in notes if n) + ".", icon=":material/info:")
    prediction = predict_or_explain(choice.digest, predictor, rgb, retry_key="busy_retry", show=show_prompt)
    if prediction is None:
        return None
    current = CurrentPrediction(choice.name, choice.kind, choice.digest, rgb, prediction, predictor.info)
    st.session_state[_LAST] = {"name": choice.name, "net_hw": current.net_hw, "seconds": dict(prediction.seconds)}
    return current


def predict_or_explain(
    digest: str, predictor: Predictor, rgb: np.ndarray, *, retry_key: str, show: bool = True
) -> Prediction | None:
    """``cache.predict`` for this image, or None with the busy message and a "Try again" button.

    A busy server (no inference slot within the gate's timeout) caches nothing, so the
    button's rerun simply tries again; the rest of the page keeps working.
    """
    try:
        return cache.predict(digest, predictor.size, predictor.info.sha256, predictor, rgb)
    except InferenceBusyError as e:
        if show:
            st.error(str(e), icon=":material/hourglass_disabled:")
            st.button("Try again", key=retry_key, icon=":material/refresh:")
        return None
