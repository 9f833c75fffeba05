"""The sidebar's model section: where the weights are, the network size, the last timing.

The weights are resolved once per session (``MIDAS_WEIGHTS``, the torch hub cache, then
a verified download with a progress bar). A failure is remembered in the session, so an
offline machine does not retry the download on every click; the sidebar then shows the
actionable message, an uploader for the ``.pt`` file and a retry button.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.midas.predictor import Predictor
from core.midas.transforms import MAX_SIZE, MIN_SIZE
from core.midas.config import MIDAS_SMALL
from core.midas.download import resolve_weights
from core.midas.errors import WeightsError
from core.midas.weights_install import install_checkpoint
from ui.cache import get_predictor

__all__ = ["NET_SIZES", "loaded_predictor", "model_panel", "show_last_prediction"]

NET_SIZES: tuple[int, ...] = tuple(range(MIN_SIZE, MAX_SIZE + 1, 32))

_WEIGHTS = "weights"  # session key: {"path": str, "source": str}
_ERROR = "weights_error"  # session key: the last user-facing failure message
_CHECKED = "weights_upload_checked"  # session key: (file_id, error or None) of the last upload
_LAST = "last_prediction"  # session key: small dict written by ui.current

_WHERE = {
    "env": "from MIDAS_WEIGHTS",
    "cache": "from the torch hub cache",
    "download": "downloaded and verified",
    "explicit": "given explicitly",
    "upload": "uploaded and validated",
}


def model_panel() -> None:
    """Draw the model status and the network size control (call inside ``st.sidebar``)."""
    st.markdown("### Model")
    if _WEIGHTS not in st.session_state and _ERROR not in st.session_state:
        _resolve_with_progress()
    predictor = loaded_predictor()  # a damaged file fails here, and turns into an error too
    if predictor is None and _ERROR in st.session_state:
        _offer_fixes()
        predictor = loaded_predictor()  # an uploaded checkpoint may have fixed it
    if predictor is not None:
        weights = st.session_state[_WEIGHTS]
        path = Path(weights["path"])
        info = predictor.info
        st.success(f"**{MIDAS_SMALL.name}** ready", icon=":material/check_circle:")
        with st.expander("Model details"):
            st.caption(
                f"`{path.name}`, {_WHERE.get(weights['source'], weights['source'])}, in {path.parent} · "
                f"SHA-256 {info.sha256[:12]}… · {info.threads} CPU threads · {info.backend_note}"
            )
        if info.fallback:
            st.warning(
                f"Running on plain torch, about 2× slower: the fast OpenVINO backend is not available. "
                f"{info.fallback}",
                icon=":material/speed:",
            )
    st.select_slider(
        "Network size N",
        options=NET_SIZES,
        key="net_size",
        help="The photo is resized to fit inside N×N (sides multiples of 32) before the network sees it. "
        "256 is what MiDaS small was trained at; larger N is slower and changes the prediction.",
    )


def loaded_predictor() -> Predictor | None:
    """The predictor for the session's weights and network size, or None if not available."""
    weights = st.session_state.get(_WEIGHTS)
    if weights is None:
        return None
    path = Path(weights["path"])
    try:
        return get_predictor(str(path), path.stat().st_mtime_ns, int(st.session_state.get("net_size", MIN_SIZE)))
    except (WeightsError, OSError) as e:
        st.session_state.pop(_WEIGHTS, None)
        st.session_state[_ERROR] = str(e)
        return None


def show_last_prediction(slot) -> None:
    """Fill ``slot`` (an ``st.empty`` in the sidebar) with the last prediction's timing."""
    last = st.session_state.get(_LAST)
    if not last:
        slot.caption("No prediction yet.")
        return
    seconds = last["seconds"]
    h, w = last["net_hw"]
    # the fast backend compiles each new input shape on first use: that run is slower, once
    compiled = (f"includes a one-time compile for {w}×{h}: {seconds['compile'] * 1000:.0f} ms; "
                if seconds.get("compile") else "")
    slot.caption(
        f"Last prediction: **{seconds.get('inference', 0.0) * 1000:.0f} ms** inference "
        f"({compiled}+{seconds.get('preprocess', 0.0) * 1000:.0f} ms resize, "
        f"+{seconds.get('upsample', 0.0) * 1000:.0f} ms upsample) · network input "
        f"{w}×{h} · {last['name']}"
    )


def _resolve_with_progress() -> None:
    bar = None

    def progress(done: int, total: int | None) -> None:
        nonlocal bar
        text = f"Downloading {MIDAS_SMALL.name} weights: {done / 1e6:.1f}" + (
            f" of {total / 1e6:.1f} MB" if total else " MB"
        )
        fraction = min(done / total, 1.0) if total else 0.0
        if bar is None:
            bar = st.progress(fraction, text=text)
        else:
            bar.progress(fraction, text=text)

    try:
        resolved = resolve_weights(progress=progress)
    except (WeightsError, OSError) as e:
        st.session_state[_ERROR] = str(e)
    else:
        st.session_state[_WEIGHTS] = {"path": str(resolved.path), "source": resolved.source}
    finally:
        if bar is not None:
            bar.empty()


def _offer_fixes() -> None:
    """Show the failure with its fixes; install an uploaded checkpoint if one arrives."""
    message_slot = st.empty()  # drawn after the upload is handled, so a fixed error disappears
    st.caption(
        f"No internet? Upload the {MIDAS_SMALL.name} checkpoint (`{MIDAS_SMALL.download_name}`, "
        "about 85 MB) here: it is checked, then cached for the next sessions."
    )
    upload = st.file_uploader("Weights file (.pt)", type=["pt", "pth"], key="weights_upload")
    if upload is not None:
        checked = st.session_state.get(_CHECKED)  # (file_id, error message or None)
        if checked is None or checked[0] != upload.file_id:
            with st.spinner("Checking the weights…"):
                try:
                    path = install_checkpoint(upload.getvalue(), source_name=upload.name)
                except WeightsError as e:
                    checked = (upload.file_id, str(e))
                else:
                    checked = (upload.file_id, None)
                    st.session_state[_WEIGHTS] = {"path": str(path), "source": "upload"}
                    del st.session_state[_ERROR]
            st.session_state[_CHECKED] = checked
            if checked[1] is None:
                return
        if checked[1] is not None:
            st.error(f"{upload.name} was not installed: {checked[1]}")
    message_slot.error(st.session_state[_ERROR])
    st.button(
        "Try the download again",
        key="weights_retry",
        on_click=lambda: st.session_state.pop(_ERROR, None),  # the rerun resolves again
    )
