"""Keep the view a user turned a 3D chart to when the chart is drawn again.

``st.plotly_chart`` builds a new plotly graph whenever its figure changes (its element id
is a hash of the figure), so plotly's own ``uirevision`` has no old graph to carry the
camera over from: every slider step on the 3D page used to snap the view back. This
browser-side helper remembers each keyed chart's last camera (after a drag, a scroll or one
of the chart's view buttons) and puts it back on the chart's next graph, as long as the
figure's ``layout.uirevision`` is the one the camera was saved under. A new ``uirevision``
(for instance a new photo) starts from the figure's own framing again.

It changes nothing on the server: no rerun, no session state. Without plotly on the page
(``window.Plotly``, which Streamlit's plotly bundle defines) it does nothing, and the chart
simply opens at its own camera.
"""

from __future__ import annotations

import streamlit as st

__all__ = ["keep_camera"]

# Runs in the page (not an iframe). One interval per mounted keeper; the cameras live in a
# window-level store, so they survive page switches within the browser tab.
_JS = """
export default function (component) {
  const chart = component.data.chart;
  const store = (window.__midasCameras = window.__midasCameras || {});
  const copy = (c) => ({ eye: { ...c.eye }, center: { ...c.center }, up: { ...c.up } });
  const watch = () => {
    const gd = document.querySelector(`.st-key-${chart}:not([data-stale="true"]) .js-plotly-plot`);
    const scene = gd && gd._fullLayout && gd._fullLayout.scene;
    if (!scene || !scene._scene || !gd.on || gd.__cameraKept) return;  // none, not drawn yet, or done
    gd.__cameraKept = true;
    const revision = String(gd.layout.uirevision);
    const saved = store[chart];
    if (saved && saved.revision === revision && window.Plotly) {
      window.Plotly.relayout(gd, { "scene.camera": saved.camera });
    }
    gd.on("plotly_relayout", (event) => {
      if (Object.keys(event).some((k) => k.startsWith("scene.camera"))) {
        // the live camera: after a drag, plotly's layout can still hold the one before it
        store[chart] = { revision, camera: copy(gd._fullLayout.scene._scene.getCamera()) };
      }
    });
  };
  const timer = setInterval(watch, 100);
  return () => clearInterval(timer);
}
"""

_keeper = st.components.v2.component("midas_camera_keeper", js=_JS)


def keep_camera(chart_key: str) -> None:
    """Keep the camera of the 3D chart drawn with ``key=chart_key`` across its redraws.

    Call it once per script run, anywhere on the page of the chart. The chart's figure
    should set ``layout.uirevision``: the kept camera is dropped when that changes.
    """
    _keeper(key=f"{chart_key}_camera_keeper", data={"chart": chart_key}, width="stretch", height="content")
