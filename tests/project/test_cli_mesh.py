"""``python -m core mesh``: one mesh file per image, the field of view's source, per-file errors, exit codes."""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import trimesh
from PIL import Image

from core import __version__
from core.cli import main
from core.midas.download import sha256_file
from tests.geometry.test_intrinsics import exif_jpeg


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """A 3:2 JPEG whose EXIF says 18 mm (35 mm equivalent): a 90 degree horizontal field of view."""
    path = tmp_path_factory.mktemp("mesh_in") / "wide.jpg"
    path.write_bytes(exif_jpeg(96, 64, FocalLengthIn35mmFilm=18))
    return path


@pytest.mark.parametrize("fmt, suffix", [("glb", ".glb"), ("obj", "_obj.zip"), ("ply", "_mesh.ply")])
def test_mesh_writes_each_format_with_the_exif_field_of_view(fmt, suffix, photo, reference_weights, tmp_path, capsys):
    code, err = _run(["mesh", photo, "--out", tmp_path, "--format", fmt, "--faces", "2000", "--cut", "off",
                      "--weights", reference_weights, "--backend", "torch"], capsys)
    assert code == 0, err
    data = (tmp_path / f"wide{suffix}").read_bytes()
    assert "90.0° horizontal field of view, from the photo's EXIF FocalLengthIn35mmFilm" in err
    assert "[1/1]" in err and "done: 1 of 1 meshes" in err
    if fmt == "obj":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            assert sorted(zf.namelist()) == ["wide.mtl", "wide.obj", "wide.png"]
            texture = Image.open(io.BytesIO(zf.read("wide.png")))
        assert texture.text["content"] == "the photo, as the mesh's texture"
        assert texture.text["weights_sha256"] == sha256_file(reference_weights)
        assert texture.text["source_size"] == "96x64" and texture.text["app_version"] == __version__
        return
    loaded = trimesh.load(io.BytesIO(data), file_type=fmt, process=False)
    geometry = next(iter(loaded.geometry.values())) if fmt == "glb" else loaded
    assert 0.9 * 2000 <= len(geometry.faces) <= 2000  # --cut off keeps the whole budgeted grid
    # 90 degrees: the right edge's x equals its depth (x = (u - cx) / fx * z with fx = W / 2)
    v = geometry.vertices  # y up, -z forward
    assert np.max(v[:, 0] / -v[:, 2]) == pytest.approx((95 - 47.5) / 48, rel=1e-4)  # the right-most column


def test_fov_override_and_the_relief(photo, reference_weights, tmp_path, capsys):
    code, err = _run(["mesh", photo, "--out", tmp_path, "--fov", "40", "--weights", reference_weights,
                      "--backend", "torch"], capsys)
    assert code == 0 and "40° horizontal field of view, set by you" in err
    code, err = _run(["mesh", photo, "--out", tmp_path, "--format", "stl", "--width-mm", "80", "--relief-mm", "4",
                      "--base-mm", "1.5", "--weights", reference_weights, "--backend", "torch"], capsys)
    assert code == 0, err
    solid = trimesh.load(tmp_path / "wide_relief.stl")
    assert solid.is_watertight
    np.testing.assert_allclose(solid.extents, [80.0, 80.0 * 63 / 95, 5.5], atol=0.1)


def test_bad_files_are_reported_and_huge_budgets_clamped(photo, reference_weights, tmp_path, capsys):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    code, err = _run(["mesh", broken, photo, tmp_path / "missing.png", "--out", tmp_path / "out", "--faces",
                      "10000000000", "--weights", reference_weights, "--backend", "torch"], capsys)
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and "broken.jpg" in errors[0] and "missing.png" in errors[1]
    assert (tmp_path / "out" / "wide.glb").is_file()
    assert "note: " in err and "triangles of every pixel: using every pixel" in err
    assert "done: 1 of 3 meshes" in err


@pytest.mark.parametrize("argv", [["--cut", "-1"], ["--faces", "0"], ["--format", "fbx"], ["--fov", "40", "--focal-px", "9"]])
def test_usage_errors_exit_2(argv, photo, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["mesh", str(photo), "--out", str(tmp_path), *argv])
    assert e.value.code == 2
    assert "error:" in capsys.readouterr().err
