"""3D Mesh: the depth grid triangulated and textured with the photo, cut at depth jumps; GLB, OBJ, PLY, STL."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from core.geometry.intrinsics import FieldOfView
from core.geometry.mesh import MAX_FACES, DepthMesh, build_mesh, build_relief
from core.geometry.pointcloud import PointCloud, inverse_depth_reference
from core.io.exports import file_stem
from core.io.mesh_exports import glb_bytes, obj_zip_bytes, ply_mesh_bytes, stl_bytes
from core.io.metadata import facts_for
from ui.camera_keeper import keep_camera
from ui.charts import point_cloud_figure
from ui.current import CurrentPrediction, current_prediction
from ui.intrinsics import fov_controls
from ui.settings import setting

st.title("3D Mesh")
st.info(
    "**A mesh you can keep.** The depth map becomes a triangle grid textured with the photo; triangles that "
    "jump in depth (an object's edge) are cut, so a person in front of a wall does not become a tent. The "
    "geometry is relative (MiDaS predicts relative inverse depth) and the field of view is the photo's or a guess.",
    icon=":material/deployed_code:",
)

current = current_prediction()
if current is None:
    st.stop()


def _mesh_figure(mesh: DepthMesh, uirevision: str) -> go.Figure:
    """A plotly Mesh3d with vertex colours, on the 3D Point Cloud page's axes, framing and view buttons."""
    frame = point_cloud_figure(PointCloud(mesh.vertices, mesh.colors), "Front", uirevision=uirevision)
    x, y, z = mesh.vertices.T
    colors = [f"rgb({r},{g},{b})" for r, g, b in mesh.colors.tolist()]
    trace = go.Mesh3d(
        x=x, y=z, z=y, i=mesh.faces[:, 0], j=mesh.faces[:, 1], k=mesh.faces[:, 2], vertexcolor=colors,
        flatshading=False, lighting={"ambient": 0.85, "diffuse": 0.25, "specular": 0.0, "roughness": 1.0},
        hovertemplate="x %{x:.3f}<br>y %{z:.3f}<br>depth %{y:.3f}<extra></extra>",
    )
    return go.Figure(data=[trace], layout=frame.layout)


def _cut() -> float | None:
    return float(setting("mesh_cut")) if setting("mesh_cut_on") else None


@st.fragment
def mesh_view(current: CurrentPrediction) -> None:
    """The live controls, the chart and the downloads; reruns alone, never the network."""
    if min(current.depth.shape) < 2:
        st.warning(f"A mesh needs at least 2×2 pixels; this image is {current.depth.shape[1]}×"
                   f"{current.depth.shape[0]}. Pick another photo in the sidebar.", icon=":material/warning:")
        return
    stats, _ = current.summary()
    reference = inverse_depth_reference(stats)
    c1, c2, c3 = st.columns(3)
    fov = fov_controls(c1)
    c2.toggle("Cut at depth jumps", key="mesh_cut_on", persist_state="session",
              help="Drop triangles whose corners' depths differ by more than the threshold.")
    c2.slider("Cut threshold (relative depth jump)", 0.01, 1.0, step=0.01, key="mesh_cut", persist_state="session",
              disabled=not setting("mesh_cut_on"),
              help="A triangle is cut when (farthest − nearest) / nearest depth of its corners is above this.")
    c3.slider("Face budget (the chart)", 2_000, 200_000, step=2_000, key="mesh_faces", persist_state="session",
              help="Triangles before the cut; the grid's step is chosen to meet it. More than about 100k "
                   "makes the chart slow in software WebGL.")
    scale, shift = float(setting("pc_scale")), float(setting("pc_shift"))
    mesh = build_mesh(current.depth, current.rgb, fov_deg=fov.degrees, faces=int(setting("mesh_faces")),
                      cut=_cut(), scale=scale, shift=shift, reference=reference)
    for note in mesh.notes:
        st.info(note[0].upper() + note[1:] + ".", icon=":material/info:")
    if mesh.n_faces == 0:
        st.warning("No triangle survives: raise the cut threshold, or the shift on the 3D Point Cloud page.")
        return
    st.plotly_chart(_mesh_figure(mesh, current.digest), key="mesh_chart", config={"displaylogo": False})
    keep_camera("mesh_chart")
    gh, gw = mesh.grid
    cut = _cut()
    st.caption(
        f"Showing **{mesh.n_faces:,} triangles** on a {gw}×{gh} grid"
        + (f" ({2 * (gw - 1) * (gh - 1) - mesh.n_faces:,} cut at jumps above {cut:.0%})" if cut else " (no cut)")
        + f" · field of view {fov.degrees:.1f}° · scale {scale:g}, shift {shift:g} (the 3D Point Cloud page's)."
    )
    _downloads(current, fov, cut, scale, shift, reference)


def _downloads(current: CurrentPrediction, fov: FieldOfView, cut: float | None, scale: float, shift: float,
               reference: float) -> None:
    """Mesh files at their own face budget, each built only when clicked."""
    st.subheader("Downloads")
    d1, d2, d3, d4 = st.columns(4)
    faces = int(d1.number_input("Face budget (the files)", 2, MAX_FACES, step=10_000, key="mesh_export_faces",
                                persist_state="session", help=f"Up to {MAX_FACES:,}; 200,000 by default."))
    width_mm = float(d2.number_input("Relief width (mm)", 5.0, 1000.0, step=5.0, key="mesh_width_mm",
                                     persist_state="session", help="The STL's size along x; y follows the photo."))
    relief_mm = float(d3.number_input("Relief depth (mm)", 0.2, 200.0, step=0.5, key="mesh_relief_mm",
                                      persist_state="session", help="Height of the nearest point above the base."))
    base_mm = float(d4.number_input("Base thickness (mm)", 0.2, 100.0, step=0.5, key="mesh_base_mm",
                                    persist_state="session", help="The flat slab under the relief."))
    depth, rgb, name, stem = current.depth, current.rgb, current.name, file_stem(current.name)
    facts = facts_for(current.info, rgb.shape[1], rgb.shape[0])  # the GLB and the texture PNGs state them

    def mesh() -> DepthMesh:  # runs when a button is clicked: reads no session state
        return build_mesh(depth, rgb, fov_deg=fov.degrees, faces=faces, cut=cut, scale=scale, shift=shift,
                          reference=reference)

    height_mm = width_mm * (depth.shape[0] - 1) / (depth.shape[1] - 1)
    b1, b2, b3, b4 = st.columns(4)
    common = {"mime": "application/octet-stream", "on_click": "ignore", "icon": ":material/download:", "width": "stretch"}
    b1.download_button("Mesh .glb", data=lambda: glb_bytes(mesh(), facts.mesh(fov)), file_name=f"{stem}.glb",
                       key="mesh_dl_glb",
                       help="Binary glTF with the photo embedded as its texture (Blender, phones, web viewers). "
                            "y up, the camera looking down −z.", **common)
    b2.download_button("Mesh .obj + .mtl + .png (zip)", data=lambda: obj_zip_bytes(mesh(), name, facts),
                       file_name=f"{stem}_obj.zip", key="mesh_dl_obj", help="Wavefront OBJ with its material "
                       "and texture.", **{**common, "mime": "application/zip"})
    b3.download_button("Mesh .ply", data=lambda: ply_mesh_bytes(mesh()), file_name=f"{stem}_mesh.ply",
                       key="mesh_dl_ply", help="Binary PLY with vertex colours (MeshLab, CloudCompare).", **common)
    b4.download_button("Printable relief .stl", file_name=f"{stem}_relief.stl", key="mesh_dl_stl",
                       data=lambda: stl_bytes(build_relief(depth, width_mm=width_mm, relief_mm=relief_mm,
                                                           base_mm=base_mm, faces=faces)),
                       help="Watertight, in millimetres, near = raised, for a slicer.", **common)
    st.caption(f"Relief: {width_mm:g} × {height_mm:.1f} mm, {base_mm + relief_mm:g} mm high "
               f"({base_mm:g} mm base + {relief_mm:g} mm relief); nearest = highest.")


mesh_view(current)
