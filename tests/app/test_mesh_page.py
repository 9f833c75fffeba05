"""The 3D Mesh page: AppTests of what it shows and exports, and a real-browser journey.

The shared field of view (EXIF, default or override) is checked here too, on the 3D Mesh, 3D Point Cloud
and Calibrate pages, since they all draw the same controls (ui/intrinsics.py).
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import trimesh
from streamlit.testing.v1 import AppTest

from tests.app.test_dashboard import app, captions, plotly_spec, typed_array, upload  # noqa: F401 (fixtures)
from tests.geometry.test_intrinsics import exif_jpeg
from tests.io.test_mesh_exports import glb_json

def _mesh_spec(at: AppTest) -> dict:
    for i in range(len(at.get("plotly_chart"))):
        spec = plotly_spec(at, i)
        if spec["data"][0]["type"] == "mesh3d":
            return spec
    raise AssertionError("no mesh3d chart on the page")


def test_mesh_page_shows_a_coloured_mesh_and_the_live_controls_change_it(app: AppTest) -> None:
    app.switch_page("app_pages/mesh.py").run()
    assert not app.exception, app.exception
    trace = _mesh_spec(app)["data"][0]
    faces = len(typed_array(trace["i"]))
    assert 0 < faces <= 40_000  # the default chart budget, before the cut
    assert len(trace["vertexcolor"]) == len(typed_array(trace["x"]))
    assert re.search(r"Showing \*\*[\d,]+ triangles\*\* on a \d+×\d+ grid", captions(app))
    assert "Camera: 60° horizontal field of view: the default (the photo has no focal length in its EXIF)." in captions(app)

    app.slider(key="mesh_faces").set_value(4_000).run()
    assert not app.exception, app.exception
    fewer = len(typed_array(_mesh_spec(app)["data"][0]["i"]))
    assert 0 < fewer <= 4_000 < faces
    app.toggle(key="mesh_cut_on").set_value(False).run()
    uncut = len(typed_array(_mesh_spec(app)["data"][0]["i"]))
    assert uncut >= fewer and "(no cut)" in captions(app)
    assert uncut >= 0.9 * 4_000  # without the cut the whole budgeted grid is drawn

    labels = [b.proto.label for b in app.get("download_button")]
    assert labels == ["Mesh .glb", "Mesh .obj + .mtl + .png (zip)", "Mesh .ply", "Printable relief .stl"]
    assert "Relief: 100 × " in captions(app) and "7 mm high (2 mm base + 5 mm relief)" in captions(app)


def test_an_exif_photo_sets_the_field_of_view_and_an_override_wins_everywhere(app: AppTest) -> None:
    upload(app, "wide.jpg", exif_jpeg(96, 64, FocalLengthIn35mmFilm=18), "image/jpeg")
    app.switch_page("app_pages/mesh.py").run()
    assert not app.exception, app.exception
    assert "Camera: 90.0° horizontal field of view, from the photo's EXIF FocalLengthIn35mmFilm (18 mm)." in captions(app)
    assert app.slider(key="pc_fov").value == 90  # the slider shows what is used
    # 90 degrees: at the right edge, x = (95 - 47.5) / 48 * depth
    trace = _mesh_spec(app)["data"][0]
    x, depth = typed_array(trace["x"]), typed_array(trace["y"])
    assert np.max(x / depth) == pytest.approx(47.5 / 48, rel=1e-4)  # the right-most column

    app.slider(key="pc_fov").set_value(45).run()  # moving the slider is an override
    assert app.radio(key="fov_mode").value == "Field of view"
    assert "Camera: 45° horizontal field of view, set by you." in captions(app)

    # the 3D Point Cloud page draws the same controls and uses the same field of view (that the choice
    # survives a page switch is checked in the browser: AppTest's switch_page drops widget values)
    app.switch_page("app_pages/point_cloud.py").run()
    assert not app.exception, app.exception
    assert "Camera: 90.0° horizontal field of view, from the photo's EXIF" in captions(app)
    assert "field of view 90.0°" in captions(app)
    app.slider(key="pc_fov").set_value(45).run()
    assert "field of view 45.0°" in captions(app)
    app.radio(key="fov_mode").set_value("Focal length (px)").run()
    app.number_input(key="focal_px").set_value(48.0).run()  # half of the 96-pixel width: 90 degrees
    assert "90.0° horizontal field of view, from your focal length of 48 px" in captions(app)
    assert "field of view 90.0°" in captions(app)
    app.radio(key="fov_mode").set_value("From the photo").run()
    assert "from the photo's EXIF" in captions(app)


def test_downloads_open_in_trimesh_and_the_stl_is_watertight(app: AppTest, monkeypatch) -> None:
    upload(app, "wide.jpg", exif_jpeg(96, 64, FocalLengthIn35mmFilm=18), "image/jpeg")
    app.switch_page("app_pages/mesh.py").run()
    app.number_input(key="mesh_export_faces").set_value(3_000).run()
    app.number_input(key="mesh_width_mm").set_value(60.0).run()
    assert not app.exception, app.exception
    # the page's deferred callables, run as the server runs them on a click
    import streamlit.elements.widgets.button as button_module

    seen: dict[str, object] = {}
    original = button_module.ButtonMixin.download_button

    def capture(self, label, data, *args, **kwargs):
        seen[label] = data
        return original(self, label, data, *args, **kwargs)

    monkeypatch.setattr(button_module.ButtonMixin, "download_button", capture)
    app.run()
    glb_data = seen["Mesh .glb"]()
    glb = trimesh.load(io.BytesIO(glb_data), file_type="glb", process=False)
    (geometry,) = glb.geometry.values()
    assert 0 < len(geometry.faces) <= 3_000 and geometry.visual.material.baseColorTexture is not None
    extras = glb_json(glb_data)["asset"]["extras"]  # the file says what it holds, with the shared camera
    assert extras["content"] == "a triangle mesh of the depth, textured with the photo"
    assert extras["field_of_view"] == ("90.0° horizontal field of view, from the photo's EXIF FocalLengthIn35mmFilm "
                                       "(18 mm)")
    assert extras["source_size"] == "96x64"
    assert geometry.visual.material.baseColorTexture.text["content"] == "the photo, as the mesh's texture"
    ply = trimesh.load(io.BytesIO(seen["Mesh .ply"]()), file_type="ply", process=False)
    assert (len(ply.vertices), len(ply.faces)) == (len(geometry.vertices), len(geometry.faces))
    stl = trimesh.load(io.BytesIO(seen["Printable relief .stl"]()), file_type="stl")
    assert stl.is_watertight and stl.is_winding_consistent
    np.testing.assert_allclose(stl.extents, [60.0, 60.0 * 63 / 95, 7.0], atol=0.1)
    assert len(seen["Mesh .obj + .mtl + .png (zip)"]()) > 0


@pytest.mark.browser
def test_browser_mesh_journey(page, tmp_path) -> None:
    from tests.browser_support import UI_TIMEOUT, download, full_page_screenshot, go_to

    go_to(page, "3D Mesh")
    page.locator(".st-key-mesh_chart .js-plotly-plot").wait_for(timeout=UI_TIMEOUT)
    page.get_by_text("Camera: 60° horizontal field of view").first.wait_for(timeout=UI_TIMEOUT)
    page.wait_for_timeout(2000)  # let software WebGL paint
    assert page.locator(".st-key-mesh_chart canvas").count() > 0
    full_page_screenshot(page, "mesh_page")
    glb = download(page, "Mesh .glb", tmp_path)
    stl = download(page, "Printable relief .stl", tmp_path)
    (geometry,) = trimesh.load(glb, process=False).geometry.values()
    assert len(geometry.faces) > 0 and geometry.visual.material.baseColorTexture is not None
    extras = glb_json(glb.read_bytes())["asset"]["extras"]
    assert extras["content"] == "a triangle mesh of the depth, textured with the photo"
    assert extras["field_of_view"].startswith("60° horizontal field of view: the default")
    solid = trimesh.load(stl)
    assert solid.is_watertight and solid.extents[0] == pytest.approx(100.0, abs=0.1)

    # an EXIF photo: its field of view is on the mesh page and, shared, on the point cloud page
    photo = tmp_path / "wide.jpg"
    photo.write_bytes(exif_jpeg(960, 640, FocalLengthIn35mmFilm=18))
    page.locator('[data-testid="stSidebar"] input[type="file"]').first.set_input_files(str(photo))
    page.get_by_text("(upload)").wait_for(timeout=UI_TIMEOUT)
    note = "Camera: 90.0° horizontal field of view, from the photo's EXIF FocalLengthIn35mmFilm (18 mm)."
    page.get_by_text(note).wait_for(timeout=UI_TIMEOUT)
    go_to(page, "3D Point Cloud")
    page.get_by_text(note).wait_for(timeout=UI_TIMEOUT)
    page.get_by_text(re.compile(r"field of view 90\.0° · drag")).wait_for(timeout=UI_TIMEOUT)
    full_page_screenshot(page, "mesh_exif_fov_point_cloud")
