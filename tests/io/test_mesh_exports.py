from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from core import __version__
from core.geometry.mesh import build_mesh, build_relief
from core.io.mesh_exports import MeshFileSettings, glb_bytes, mesh_file, obj_zip_bytes, ply_mesh_bytes, stl_bytes
from core.io.metadata import DepthFacts
from tests.geometry.test_mesh import scene


@pytest.fixture(scope="module")
def mesh():
    inv, rgb = scene()
    rgb[:, :, 1] = np.arange(80, dtype=np.uint8)[None, :] * 3  # a texture that varies along x
    return build_mesh(inv, rgb, fov_deg=60.0, faces=3_000)


def y_up(mesh) -> np.ndarray:
    return mesh.vertices * np.array([1, -1, -1], np.float32)


def test_glb_round_trips_with_its_texture(mesh) -> None:
    scene_ = trimesh.load(io.BytesIO(glb_bytes(mesh)), file_type="glb", process=False)
    (loaded,) = scene_.geometry.values()
    assert (len(loaded.vertices), len(loaded.faces)) == (len(mesh.vertices), mesh.n_faces)
    np.testing.assert_allclose(loaded.vertices, y_up(mesh), atol=1e-6)
    np.testing.assert_array_equal(loaded.faces, mesh.faces)
    texture = np.asarray(loaded.visual.material.baseColorTexture.convert("RGB"))
    np.testing.assert_array_equal(texture, mesh.texture)  # embedded, lossless
    np.testing.assert_allclose(loaded.visual.uv, mesh.uv, atol=1e-6)


def glb_json(data: bytes) -> dict:
    """The glTF JSON of a GLB: its first chunk, after the 12-byte header."""
    length, kind = struct.unpack("<II", data[12:20])
    assert kind == 0x4E4F534A  # "JSON"
    return json.loads(data[20:20 + length])


def test_the_glb_says_what_it_holds_in_its_asset_extras_and_its_texture(mesh) -> None:
    facts = DepthFacts("MiDaS v2.1 small", "9a" * 32, 256, (80, 60))
    data = glb_bytes(mesh, facts.mesh(60.0))
    extras = glb_json(data)["asset"]["extras"]  # glTF 2.0 allows extras on any object
    assert extras["content"] == "a triangle mesh of the depth, textured with the photo"
    assert extras["units"].startswith("unitless") and "not metres" in extras["units"]
    assert extras["field_of_view"] == "60.0° horizontal field of view" and "y up" in extras["encoding"]
    assert extras["weights_sha256"] == "9a" * 32 and extras["network_size"] == 256  # JSON: numbers stay numbers
    assert extras["source_size"] == "80x60" and extras["app_version"] == __version__
    # trimesh still reads the same mesh, and the embedded texture PNG states the photo's facts
    scene_ = trimesh.load(io.BytesIO(data), file_type="glb", process=False)
    (loaded,) = scene_.geometry.values()
    assert (len(loaded.vertices), len(loaded.faces)) == (len(mesh.vertices), mesh.n_faces)
    texture = loaded.visual.material.baseColorTexture
    np.testing.assert_array_equal(np.asarray(texture.convert("RGB")), mesh.texture)
    assert texture.text["content"] == "the photo, as the mesh's texture" and texture.text["weights_sha256"] == "9a" * 32
    # mesh_file (the CLI's) states the field of view it used
    name, made, _ = mesh_file(*scene(), "scene.jpg", 47.5, MeshFileSettings(faces=2_000), facts)
    assert name == "scene.glb" and glb_json(made)["asset"]["extras"]["field_of_view"].startswith("47.5°")
    with pytest.raises(TypeError, match="DepthFacts"):
        glb_bytes(mesh, {"model": "x"})


def test_a_glb_without_facts_has_no_extras(mesh) -> None:
    assert "extras" not in glb_json(glb_bytes(mesh))["asset"]


def test_obj_zip_round_trips_with_mtl_and_png(mesh, tmp_path: Path) -> None:
    data = obj_zip_bytes(mesh, "my photo.jpg")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == ["my_photo.mtl", "my_photo.obj", "my_photo.png"]
        zf.extractall(tmp_path)
    assert "map_Kd my_photo.png" in (tmp_path / "my_photo.mtl").read_text()
    loaded = trimesh.load(tmp_path / "my_photo.obj", process=False, maintain_order=True)
    assert (len(loaded.vertices), len(loaded.faces)) == (len(mesh.vertices), mesh.n_faces)
    np.testing.assert_allclose(loaded.vertices, y_up(mesh), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(loaded.faces, mesh.faces)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "my_photo.png")), mesh.texture)
    assert loaded.visual.material.image is not None  # the MTL found the texture
    assert Image.open(tmp_path / "my_photo.png").text == {}  # no facts given, none written


def test_the_obj_zip_s_texture_says_it_is_the_photo_with_the_prediction_s_facts(mesh) -> None:
    facts = DepthFacts("MiDaS v2.1 small", "9a" * 32, 256, (80, 60))
    with zipfile.ZipFile(io.BytesIO(obj_zip_bytes(mesh, "scene.png", facts))) as zf:
        texture = zf.read("scene.png")
    with Image.open(io.BytesIO(texture)) as im:
        text, pixels = dict(im.text), np.asarray(im)
    np.testing.assert_array_equal(pixels, mesh.texture)
    assert text["content"] == "the photo, as the mesh's texture"
    assert text["weights_sha256"] == "9a" * 32 and text["source_size"] == "80x60" and text["app_version"] == __version__
    with pytest.raises(TypeError, match="DepthFacts"):
        obj_zip_bytes(mesh, "scene.png", {"model": "x"})


def test_ply_mesh_round_trips_with_vertex_colours(mesh) -> None:
    loaded = trimesh.load(io.BytesIO(ply_mesh_bytes(mesh)), file_type="ply", process=False)
    assert (len(loaded.vertices), len(loaded.faces)) == (len(mesh.vertices), mesh.n_faces)
    np.testing.assert_array_equal(loaded.vertices, y_up(mesh))  # float32 written and read bit for bit
    np.testing.assert_array_equal(loaded.faces, mesh.faces)
    np.testing.assert_array_equal(loaded.visual.vertex_colors[:, :3], mesh.colors)


def test_y_up_export_keeps_faces_towards_the_camera(mesh) -> None:
    loaded = trimesh.load(io.BytesIO(ply_mesh_bytes(mesh)), file_type="ply", process=False)
    assert np.all(loaded.face_normals[:, 2] > 0)  # the camera sits at the origin looking down -z


@pytest.mark.parametrize("width_mm, relief_mm, base_mm", [(120.0, 6.0, 2.5), (50.0, 3.0, 1.0)])
def test_stl_is_watertight_and_sized_in_mm(width_mm: float, relief_mm: float, base_mm: float) -> None:
    inv, _ = scene()
    relief = build_relief(inv, width_mm=width_mm, relief_mm=relief_mm, base_mm=base_mm, faces=4_000)
    data = stl_bytes(relief)
    assert len(data) == 84 + 50 * len(relief.faces)
    solid = trimesh.load(io.BytesIO(data), file_type="stl")  # merges the STL's per-facet vertices
    assert solid.is_watertight and solid.is_winding_consistent and solid.volume > 0
    np.testing.assert_allclose(solid.bounds[0], 0.0, atol=0.1)
    np.testing.assert_allclose(solid.extents, [width_mm, width_mm * 59 / 79, base_mm + relief_mm], atol=0.1)
    # the facet normals we store are the outward ones trimesh computes
    stored = np.frombuffer(data[84:], dtype=np.dtype([("n", "<f4", 3), ("v", "<f4", 9), ("a", "<u2")]))["n"]
    computed = trimesh.Trimesh(relief.vertices, relief.faces, process=False).face_normals
    np.testing.assert_allclose(stored, computed, atol=1e-5)


def test_an_empty_mesh_is_refused_with_what_to_do() -> None:
    inv = np.zeros((10, 10), np.float32)
    empty = build_mesh(inv, np.zeros((10, 10, 3), np.uint8), fov_deg=60.0, shift=0.0)  # every depth at infinity
    assert empty.n_faces == 0
    for export in (glb_bytes, obj_zip_bytes, ply_mesh_bytes):
        with pytest.raises(ValueError, match="no faces"):
            export(empty)
    with pytest.raises(TypeError, match="Relief"):
        stl_bytes(empty)  # type: ignore[arg-type]
