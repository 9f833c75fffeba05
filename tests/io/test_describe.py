"""core/io/describe.py: every file we write states its fields, read back by ``describe``."""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from core import __version__
from core.cli import main
from core.io.describe import describe_bytes, describe_file
from core.io.exports import npy_bytes, png16_bytes, png_bytes
from core.io.float_maps import exr_bytes, pfm_bytes
from core.io.metadata import DepthFacts, sidecar_bytes, sidecar_name
from core.maps.colormaps import colorize

FACTS = DepthFacts("MiDaS v2.1 small", "cd" * 32, 320, (6, 4))
DEPTH = np.linspace(0.5, 3.5, 24, dtype=np.float32).reshape(4, 6)
COMMON = {"model": "MiDaS v2.1 small", "weights_sha256": "cd" * 32, "network_size": "320", "source_size": "6x4",
          "app_version": __version__}


def _npz() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, depth=np.zeros((3, 4, 6), np.float16), timestamps=np.arange(3.0))
    return buffer.getvalue()


RAW = FACTS.raw("float32", DEPTH.shape)
FILES = {  # name -> (contents, sidecar or None, the "file" line)
    "d16.png": (png16_bytes(DEPTH, metadata=FACTS), None, "PNG, 16-bit grayscale, 6x4"),
    "heat.png": (png_bytes(colorize(DEPTH), FACTS.heatmap("inferno", 0.5, 3.5)), None, "PNG, 8-bit RGB, 6x4"),
    "d.npy": (npy_bytes(DEPTH), sidecar_bytes(RAW), "NumPy .npy, float32 (4, 6)"),
    "d.pfm": (pfm_bytes(DEPTH), sidecar_bytes(RAW),
              "PFM, grayscale 6x4, float32 little-endian, rows bottom to top, scale 1"),
    "d.exr": (exr_bytes(DEPTH, RAW), None, "OpenEXR, channels Y float32 6x4"),
    "clip_depth.npz": (_npz(), sidecar_bytes(FACTS.raw("float16", (3, 4, 6)), depth="float16 (frames, H, W)"),
                       "NumPy .npz, depth float16 (3, 4, 6), timestamps float64 (3,)"),
}


@pytest.mark.parametrize("name", list(FILES))
def test_describe_reads_every_format_s_fields_back(name, tmp_path):
    data, sidecar, kind = FILES[name]
    (tmp_path / name).write_bytes(data)
    if sidecar is not None:
        (tmp_path / sidecar_name(name)).write_bytes(sidecar)
    fields = describe_file(tmp_path / name)
    assert next(iter(fields)) == "file" and fields["file"] == kind
    assert {key: fields[key] for key in COMMON} == COMMON
    assert fields["content"] == "relative inverse depth" and fields["units"] == "unitless"
    if name.endswith(".png"):
        assert (float(fields["value_at_0"]), float(fields["value_at_max"])) == (0.5, 3.5)
        assert fields["max_code"] == ("65535" if name == "d16.png" else "255")
    else:
        assert "value_at_0" not in fields and fields["near"] == "large values"
    if name == "clip_depth.npz":
        assert fields["shape"] == "3x4x6" and fields["arrays"] == "depth: float16 (frames, H, W)"


@pytest.mark.parametrize("name", ["d.npy", "d.pfm", "clip_depth.npz"])
def test_an_array_file_without_its_sidecar_says_so(name, tmp_path):
    (tmp_path / name).write_bytes(FILES[name][0])
    fields = describe_file(tmp_path / name)
    assert fields == {"file": FILES[name][2], "metadata": f"none: no sidecar {name}.json next to the file"}


def test_a_sidecar_alone_and_a_png_without_fields(tmp_path):
    fields = describe_bytes(sidecar_bytes(RAW))
    assert fields["file"] == "JSON sidecar" and fields["shape"] == "4x6"
    plain = describe_bytes(png_bytes(np.zeros((2, 3), np.uint8)))
    assert plain == {"file": "PNG, 8-bit grayscale, 3x2", "metadata": "none: the file states no fields"}


def test_metric_files_say_metres_scale_and_shift():
    facts = FACTS.metric(0.125, -0.03)
    fields = describe_bytes(npy_bytes(DEPTH), sidecar_bytes(facts.raw("float32", DEPTH.shape)))
    assert fields["units"] == "metres" and fields["content"] == "depth" and fields["near"] == "small values"
    assert (float(fields["scale"]), float(fields["shift"])) == (0.125, -0.03)


def test_a_stereo_picture_and_a_mesh_texture_say_what_they_show(tmp_path, capsys):
    rgb = np.zeros((4, 6, 3), np.uint8)
    (tmp_path / "a_anaglyph.png").write_bytes(png_bytes(rgb, FACTS.stereo("anaglyph", 5.0, 0.5, "background")))
    (tmp_path / "texture.png").write_bytes(png_bytes(rgb, FACTS.texture()))
    fields = describe_file(tmp_path / "a_anaglyph.png")
    assert fields["file"] == "PNG, 8-bit RGB, 6x4" and {key: fields[key] for key in COMMON} == COMMON
    assert fields["content"] == "stereo views rendered from relative inverse depth" and fields["layout"] == "anaglyph"
    assert fields["strength"].startswith("5 % of the width") and fields["hole_fill"].startswith("background")
    assert describe_file(tmp_path / "texture.png")["content"] == "the photo, as the mesh's texture"
    assert main(["describe", str(tmp_path / "a_anaglyph.png")]) == 0  # what the user reads
    printed = capsys.readouterr().out
    for line in ("content: stereo views rendered from relative inverse depth", "layout: anaglyph",
                 "strength: 5 % of the width", "convergence: 0.5", f"weights_sha256: {'cd' * 32}",
                 f"app_version: {__version__}"):
        assert line in " ".join(printed.split()), line


def test_a_glb_a_wiggle_gif_and_an_orbit_mp4_say_what_they_hold(tmp_path, capsys):
    from core.geometry.mesh import build_mesh
    from core.io.mesh_exports import glb_bytes
    from core.video.photo3d import orbit_mp4_bytes, wiggle_gif
    from tests.geometry.test_mesh import scene as mesh_scene
    from tests.geometry.test_stereo import scene as stereo_scene

    rgb, depth, _ = stereo_scene(48, 64, (10, 30, 20, 40))
    mesh = build_mesh(*mesh_scene(), fov_deg=60.0, faces=2_000)
    files = {
        "m.glb": glb_bytes(mesh, FACTS.mesh(60.0)),
        "w.gif": wiggle_gif(rgb, depth, 4.0, 0.5, frames=4, facts=FACTS, fov=55.0, baseline_m=0.063),
        "o.mp4": orbit_mp4_bytes(rgb, depth, 4.0, 0.5, seconds=1.0, fps=10, facts=FACTS, fov=55.0),
    }
    kinds = {"m.glb": f"GLB (binary glTF 2), 1 mesh, {len(mesh.vertices)} vertices, {mesh.n_faces} faces, "
                      "images: image/png",
             "w.gif": "GIF, 64x48, 4 frames", "o.mp4": "MP4, h264 64x48, 1.00 s"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        fields = describe_file(tmp_path / name)
        assert fields["file"] == kinds[name], name
        assert {key: fields[key] for key in COMMON} == COMMON, name
    glb, gif, mp4 = (describe_file(tmp_path / name) for name in files)
    assert glb["content"] == "a triangle mesh of the depth, textured with the photo"
    assert glb["field_of_view"] == "60.0° horizontal field of view"
    for fields, layout in ((gif, "wiggle"), (mp4, "orbit")):
        assert fields["content"] == "stereo views rendered from relative inverse depth" and fields["layout"] == layout
        assert fields["strength"].startswith("4 % of the width") and fields["convergence"].startswith("0.5 ")
        assert fields["field_of_view"] == "55.0° horizontal field of view"
    assert gif["baseline"].startswith("0.063 m between the two cameras") and "baseline" not in mp4
    assert "encoder" not in mp4 and "major_brand" not in mp4  # the muxer's own keys are not facts
    assert main(["describe", *(str(tmp_path / name) for name in files)]) == 0  # what the user reads
    printed = " ".join(capsys.readouterr().out.split())
    for line in ("file: GLB (binary glTF 2)", "content: a triangle mesh of the depth", "layout: wiggle",
                 "baseline: 0.063 m between the two cameras", "layout: orbit", "file: MP4, h264 64x48",
                 f"weights_sha256: {'cd' * 32}"):
        assert line in printed, line


def test_animations_and_meshes_without_facts_say_so():
    from core.video.photo3d import gif_bytes

    gif = describe_bytes(gif_bytes([np.zeros((4, 6, 3), np.uint8)]))
    assert gif == {"file": "GIF, 6x4, 1 frame", "metadata": "none: the file states no fields"}


def test_describe_refuses_other_files(tmp_path):
    with pytest.raises(ValueError, match="not a file this app writes"):
        describe_bytes(b"BM6\x00\x00\x00....")
    with pytest.raises(ValueError, match="damaged GIF"):
        describe_bytes(b"GIF89a....")
    with pytest.raises(ValueError, match="damaged GLB"):
        describe_bytes(b"glTF\x02\x00\x00\x00" + b"\x00" * 12)
    with pytest.raises(ValueError, match="damaged MP4"):
        describe_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 20)
    broken = io.BytesIO()
    with zipfile.ZipFile(broken, "w") as zf:
        zf.writestr("notes.txt", "hello")
    with pytest.raises(ValueError, match="npy"):
        describe_bytes(broken.getvalue())
    with pytest.raises(OSError):
        describe_file(tmp_path / "missing.png")
    with pytest.raises(TypeError):
        describe_bytes("d.png")
