"""Mesh files, returned as ``bytes``: GLB (texture embedded), OBJ + MTL + PNG in a zip, PLY and STL.

The textured formats (GLB, OBJ, PLY) are written in the frame 3D tools expect (glTF's, and
Blender's import default): y UP and the camera looking down -z, i.e. the camera frame of
:class:`core.geometry.mesh.DepthMesh` turned 180 degrees about x, ``(x, -y, -z)``. A rotation,
so faces still face the camera. The STL of a :class:`core.geometry.mesh.Relief` is in its own
millimetre frame (z up), as slicers read it.

Given the prediction's facts (:mod:`core.io.metadata`), the GLB states them in its glTF JSON
(``asset.extras``: :meth:`DepthFacts.mesh`'s fields) and its embedded texture PNG in text
chunks (:meth:`DepthFacts.texture`), as the OBJ zip's texture PNG does.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import numpy as np

from core.geometry.mesh import DEFAULT_CUT, DepthMesh, Relief, build_mesh, build_relief
from core.io.exports import file_stem, png_bytes
from core.io.metadata import DepthFacts, check_facts, png_with_text

__all__ = ["MESH_FORMATS", "MeshFileSettings", "glb_bytes", "mesh_file", "obj_zip_bytes", "ply_mesh_bytes", "stl_bytes"]

_TO_Y_UP = np.array([1.0, -1.0, -1.0], dtype=np.float32)


def _check_mesh(mesh: DepthMesh) -> None:
    if not isinstance(mesh, DepthMesh):
        raise TypeError(f"mesh must be a core.geometry.mesh.DepthMesh, got {type(mesh).__name__}")
    if mesh.n_faces == 0:
        raise ValueError("the mesh has no faces to export: raise the cut threshold or the shift, then build it again")


def _y_up(mesh: DepthMesh) -> np.ndarray:
    return mesh.vertices * _TO_Y_UP  # Nx3 float32, y up, -z forward


def glb_bytes(mesh: DepthMesh, facts: DepthFacts | None = None) -> bytes:
    """A binary glTF (``.glb``) with the photo embedded as the base colour texture, via trimesh.

    Args:
        mesh: a mesh with at least one face.
        facts: what the file states: the mesh's facts (``facts_for(...).mesh(fov)``, see
            :meth:`DepthFacts.mesh`), written as the glTF's ``asset.extras`` (glTF 2.0 allows
            ``extras`` on any object); the embedded texture PNG states ``facts.texture()`` in its
            text chunks. None writes neither.

    Returns:
        The GLB file contents. ``trimesh.load(..., file_type="glb", process=False)`` gives back
        the same vertex and face counts.
    """
    import trimesh  # imported here: it is only needed for this format
    from PIL import Image

    _check_mesh(mesh)
    check_facts(facts)
    visual = trimesh.visual.TextureVisuals(uv=mesh.uv, image=Image.fromarray(mesh.texture))
    tm = trimesh.Trimesh(vertices=_y_up(mesh), faces=mesh.faces, visual=visual, process=False)
    if facts is None:
        return tm.export(file_type="glb")

    def state_facts(tree: dict) -> None:  # trimesh's tree_postprocessor: the glTF JSON, before it is written
        tree.setdefault("asset", {})["extras"] = facts.fields()

    def texture_facts(buffers, tree: dict) -> None:  # its buffer_postprocessor: the blobs, before their views
        keys = list(buffers)
        for image in tree.get("images", []):
            key = keys[image["bufferView"]]
            if image.get("mimeType") == "image/png":
                png = png_with_text(bytes(buffers[key]), facts.texture().text_fields())
                buffers[key] = png + b"\0" * (-len(png) % 4)  # glTF buffer views stay 4-byte aligned
    return trimesh.exchange.gltf.export_glb(tm.scene(), tree_postprocessor=state_facts,
                                            buffer_postprocessor=texture_facts)


def _lines(fmt: str, rows: np.ndarray) -> str:
    """``fmt`` applied to every row, in one %-format call (about 10x quicker than ``np.savetxt``)."""
    return (fmt * len(rows)) % tuple(rows.ravel().tolist())


def obj_zip_bytes(mesh: DepthMesh, name: str = "mesh", facts: DepthFacts | None = None) -> bytes:
    """A zip of ``<stem>.obj``, ``<stem>.mtl`` and ``<stem>.png`` (the texture), for Blender and others.

    Args:
        mesh: a mesh with at least one face.
        name: the file name the zip's members are named after (made safe by ``file_stem``).
        facts: the prediction's facts (:func:`core.io.metadata.facts_for`); the texture PNG states
            them as text chunks (:meth:`DepthFacts.texture`). None writes it without.

    Returns:
        The zip file contents (deflated).
    """
    _check_mesh(mesh)
    check_facts(facts)
    stem = file_stem(name)
    obj = io.StringIO()
    obj.write("# depth mesh: y up, camera looking down -z; units as the depth (relative unless calibrated)\n")
    obj.write(f"mtllib {stem}.mtl\nusemtl photo\n")
    obj.write(_lines("v %.7g %.7g %.7g\n", _y_up(mesh)))
    obj.write(_lines("vt %.7g %.7g\n", mesh.uv))
    f = mesh.faces.astype(np.int64) + 1  # OBJ indices start at 1; v and vt share them
    obj.write(_lines("f %d/%d %d/%d %d/%d\n", np.repeat(f, 2, axis=1)))
    mtl = f"newmtl photo\nKa 1 1 1\nKd 1 1 1\nKs 0 0 0\nillum 1\nmap_Kd {stem}.png\n"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr(f"{stem}.obj", obj.getvalue())
        zf.writestr(f"{stem}.mtl", mtl)
        texture = png_bytes(mesh.texture, None if facts is None else facts.texture())
        zf.writestr(f"{stem}.png", texture, compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


def ply_mesh_bytes(mesh: DepthMesh) -> bytes:
    """A binary little-endian PLY mesh: vertices (float x y z, uchar red green blue) and faces.

    Args:
        mesh: a mesh with at least one face.

    Returns:
        The PLY file contents, with per-vertex colours (no texture).
    """
    _check_mesh(mesh)
    n, m = len(mesh.vertices), mesh.n_faces
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        "comment depth mesh: y up, camera looking down -z; units as the depth\n"
        f"element vertex {n}\nproperty float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\n"
        f"element face {m}\nproperty list uchar int vertex_indices\nend_header\n"
    ).encode("ascii")
    vdt = np.dtype([("xyz", "<f4", 3), ("rgb", "u1", 3)])
    verts = np.empty(n, dtype=vdt)
    verts["xyz"], verts["rgb"] = _y_up(mesh), mesh.colors
    fdt = np.dtype([("n", "u1"), ("idx", "<i4", 3)])
    faces = np.empty(m, dtype=fdt)
    faces["n"], faces["idx"] = 3, mesh.faces
    return header + verts.tobytes() + faces.tobytes()


def stl_bytes(relief: Relief) -> bytes:
    """A binary STL of a relief, in millimetres, with outward facet normals.

    Args:
        relief: from :func:`core.geometry.mesh.build_relief`.

    Returns:
        The STL file contents (80-byte header, count, 50 bytes per triangle).
    """
    if not isinstance(relief, Relief):
        raise TypeError(f"relief must be a core.geometry.mesh.Relief, got {type(relief).__name__}")
    tri = relief.vertices[relief.faces].astype(np.float32)  # M x 3 x 3
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # M x 3
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.divide(normals, length, out=np.zeros_like(normals), where=length > 0)
    record = np.dtype([("normal", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")])
    body = np.zeros(len(tri), dtype=record)
    body["normal"], body["v"] = normals, tri
    w, d, h = relief.size_mm
    header = f"depth relief {w:.1f} x {d:.1f} x {h:.1f} mm, near = raised".encode("ascii")[:80].ljust(80, b" ")
    return header + np.array(len(tri), dtype="<u4").tobytes() + body.tobytes()


#: Format name -> the suffix of its file after the image's stem.
MESH_FORMATS = {"glb": ".glb", "obj": "_obj.zip", "ply": "_mesh.ply", "stl": "_relief.stl"}


@dataclass(frozen=True)
class MeshFileSettings:
    """What a mesh file is made with (the CLI's options; the app's controls).

    Attributes:
        fmt: one of :data:`MESH_FORMATS`.
        faces: face budget.
        cut: relative depth jump above which a triangle is cut; None keeps all (not for stl).
        width_mm, relief_mm, base_mm: the relief's sizes (stl only).
    """

    fmt: str = "glb"
    faces: int = 200_000
    cut: float | None = DEFAULT_CUT
    width_mm: float = 100.0
    relief_mm: float = 5.0
    base_mm: float = 2.0


def mesh_file(
    inv_depth: np.ndarray, rgb: np.ndarray, name: str, fov_deg: float, settings: MeshFileSettings,
    facts: DepthFacts | None = None,
) -> tuple[str, bytes, tuple[str, ...]]:
    """Build the mesh (or relief) of a prediction and encode it in the chosen format.

    Args:
        inv_depth: HxW relative inverse depth.
        rgb: HxWx3 uint8 photo.
        name: the image's file name or stem, for the output name.
        fov_deg: horizontal field of view (not used by stl).
        settings: format and sizes.
        facts: the prediction's facts, stated by the GLB (with the field of view) and by its and the
            OBJ zip's texture PNG (see :func:`glb_bytes`, :func:`obj_zip_bytes`).

    Returns:
        (file name, contents, notes): e.g. ``("photo.glb", b"glTF...", ("face budget ... clamped ...",))``.

    Raises:
        ValueError: a bad setting, a map below 2x2, or a mesh left with no faces.
    """
    if settings.fmt not in MESH_FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(MESH_FORMATS)}, got {settings.fmt!r}")
    out_name = file_stem(name) + MESH_FORMATS[settings.fmt]
    if settings.fmt == "stl":
        relief = build_relief(inv_depth, width_mm=settings.width_mm, relief_mm=settings.relief_mm,
                              base_mm=settings.base_mm, faces=settings.faces)
        return out_name, stl_bytes(relief), relief.notes
    mesh = build_mesh(inv_depth, rgb, fov_deg=fov_deg, faces=settings.faces, cut=settings.cut)
    encode = {"glb": lambda m: glb_bytes(m, None if facts is None else facts.mesh(fov_deg)),
              "obj": lambda m: obj_zip_bytes(m, name, facts), "ply": ply_mesh_bytes}[settings.fmt]
    return out_name, encode(mesh), mesh.notes
