"""core/io/metadata.py: the facts record, PNG text chunks (read back with Pillow) and the JSON sidecar."""
from __future__ import annotations

import dataclasses
import io
import json
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from core import __version__
from core.io.exports import png16_bytes, png_bytes
from core.geometry.intrinsics import FieldOfView
from core.io.metadata import (
    DepthFacts,
    facts_for,
    facts_text,
    png_with_text,
    read_facts_text,
    read_png_text,
    read_sidecar,
    sidecar_bytes,
    sidecar_facts,
    sidecar_name,
)
from core.maps.colormaps import colorize
from core.maps.normalize import to_uint16
from core.midas.config import MIDAS_SMALL

SHA = "0123456789abcdef" * 4


@dataclasses.dataclass(frozen=True)
class _Info:  # the two attributes of a PredictorInfo that facts_for reads
    sha256: str = SHA
    size: int = 384


def _facts(width: int = 5, height: int = 3) -> DepthFacts:
    return facts_for(_Info(), width, height)


def _pillow_text(png: bytes) -> dict[str, str]:
    with Image.open(io.BytesIO(png)) as im:
        im.load()
        return dict(im.text)


def _map(height: int = 3, width: int = 5) -> np.ndarray:
    return np.linspace(0.25, 9.5, height * width, dtype=np.float32).reshape(height, width)


def test_facts_for_takes_the_model_hash_size_and_app_version():
    fields = _facts(640, 480).fields()
    assert fields["model"] == MIDAS_SMALL.name
    assert fields["weights_sha256"] == SHA and fields["network_size"] == 384
    assert fields["source_size"] == "640x480" and fields["app_version"] == __version__
    assert fields["content"] == "relative inverse depth" and fields["units"] == "unitless"
    assert "value_at_0" not in fields and "scale" not in fields  # what does not apply is left out


@pytest.mark.parametrize(("height", "width"), [(1, 1), (3, 5), (48, 64)])
def test_png16_text_chunks_read_back_with_pillow_and_pixels_are_unchanged(height, width):
    depth = _map(height, width)
    data = png16_bytes(depth, metadata=_facts(width, height))
    text = _pillow_text(data)
    assert text["content"] == "relative inverse depth" and text["near"] == "bright (65535)"
    assert float(text["value_at_0"]) == float(depth.min()) and float(text["value_at_max"]) == float(depth.max())
    assert text["max_code"] == "65535" and text["weights_sha256"] == SHA and text["network_size"] == "384"
    assert text["source_size"] == f"{width}x{height}" and text["app_version"] == __version__
    assert text["Software"].endswith(__version__)
    assert text == read_png_text(data)  # our reader agrees with Pillow
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(decoded, to_uint16(depth))
    assert png16_bytes(depth) == png_bytes(to_uint16(depth))  # without metadata: the same file as before


def test_png16_states_the_window_it_was_given_and_the_finite_range_by_default():
    depth = _map()
    text = _pillow_text(png16_bytes(depth, 1.0, 4.0, metadata=_facts()))
    assert (float(text["value_at_0"]), float(text["value_at_max"])) == (1.0, 4.0)
    depth[0, 0], depth[1, 1] = np.nan, np.inf  # the window to_uint16 uses skips non-finite values
    finite = depth[np.isfinite(depth)]
    text = _pillow_text(png16_bytes(depth, metadata=_facts()))
    assert (float(text["value_at_0"]), float(text["value_at_max"])) == (float(finite.min()), float(finite.max()))


@pytest.mark.parametrize("invert", [False, True])
def test_heatmap_png_says_colormap_window_and_which_end_is_near(invert):
    depth = _map()
    data = png_bytes(colorize(depth, "turbo", 1.0, 8.0, invert), _facts().heatmap("turbo", 1.0, 8.0, invert))
    text = _pillow_text(data)
    assert (float(text["value_at_0"]), float(text["value_at_max"]), text["max_code"]) == (1.0, 8.0, "255")
    assert "turbo" in text["encoding"] and text["near"] == f"the {'first' if invert else 'last'} colour of turbo"
    rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(rgb, colorize(depth, "turbo", 1.0, 8.0, invert))


def test_a_plain_png_for_the_screen_has_no_text_chunks():
    assert _pillow_text(png_bytes(np.zeros((2, 2, 3), np.uint8))) == {}


def test_metric_facts_say_metres_and_give_scale_and_shift():
    facts = _facts().metric(0.031, -0.0125)
    fields = facts.raw("float32", (3, 5)).fields()
    assert fields["content"] == "depth" and fields["units"] == "metres" and fields["near"] == "small values"
    assert (fields["scale"], fields["shift"]) == (0.031, -0.0125)
    assert fields["no_depth"] == "0" and "scale * d + shift" in fields["calibration"]
    mm = _pillow_text(png_with_text(png_bytes(np.zeros((3, 5), np.uint16)), facts.millimetre_png16().text_fields()))
    assert mm["units"] == "millimetres" and float(mm["scale"]) == 0.031 and float(mm["shift"]) == -0.0125
    assert (float(mm["value_at_0"]), float(mm["value_at_max"])) == (0.0, 65535.0)
    with pytest.raises(ValueError, match="metric"):
        _facts().millimetre_png16()
    with pytest.raises(ValueError, match="units"):
        _facts().metric(1.0, 0.0, units="feet")


@pytest.mark.parametrize(("layout", "says"), [("sbs", "parallel"), ("cross", "cross-eyed"), ("tb", "top-bottom"),
                                              ("anaglyph", "red-cyan")])
def test_a_stereo_picture_says_it_is_rendered_with_its_settings_not_depth_values(layout, says):
    base = _facts().with_extra(decoded="reduced 2x", shape="3x5")
    text = _pillow_text(png_bytes(np.zeros((3, 5, 3), np.uint8), base.stereo(layout, 4.5, 0.25, "telea")))
    assert text["content"] == "stereo views rendered from relative inverse depth"
    assert text["units"] == "none: a picture, not values" and says in text["encoding"]
    assert text["layout"] == layout and text["strength"].startswith("4.5 % of the width")
    assert text["convergence"].startswith("0.25 ") and text["hole_fill"].startswith("telea: OpenCV inpainting")
    assert text["weights_sha256"] == SHA and text["network_size"] == "384" and text["source_size"] == "5x3"
    assert text["app_version"] == __version__ and text["decoded"] == "reduced 2x"
    for gone in ("value_at_0", "value_at_max", "max_code", "shape"):  # not a map of values
        assert gone not in text
    stereo_of_metric = _facts().metric(0.5, 0.1).stereo(layout, 3.0, 0.5, "background").fields()
    assert "scale" not in stereo_of_metric and "calibration" not in stereo_of_metric


def test_stereo_facts_know_every_layout_and_fill_and_refuse_bad_settings():
    from core.geometry.stereo import FILLS, LAYOUTS

    for layout in LAYOUTS:
        for fill in FILLS:
            assert _facts().stereo(layout, 3.0, 0.5, fill).fields()["layout"] == layout
    with pytest.raises(ValueError, match="layout must be one of"):
        _facts().stereo("vr", 3.0, 0.5, "background")
    with pytest.raises(ValueError, match="fill must be one of"):
        _facts().stereo("sbs", 3.0, 0.5, "blur")
    with pytest.raises(ValueError, match="strength_pct"):
        _facts().stereo("sbs", 0.0, 0.5, "background")
    with pytest.raises(ValueError, match="convergence"):
        _facts().stereo("sbs", 3.0, 1.5, "background")


def test_stereo_facts_state_the_field_of_view_and_the_baseline_when_known():
    fov = FieldOfView(65.5, "exif", "65.5° horizontal field of view, from the photo's EXIF FocalLengthIn35mmFilm")
    fields = _facts().stereo("anaglyph", 3.0, 0.5, "background", fov=fov, baseline_m=0.0634).fields()
    assert fields["field_of_view"] == fov.note
    assert fields["baseline"].startswith("0.0634 m between the two cameras")
    plain = _facts().stereo("sbs", 3.0, 0.5, "background", fov=60.0).fields()
    assert plain["field_of_view"] == "60.0° horizontal field of view" and "baseline" not in plain
    again = _facts().stereo("sbs", 3.0, 0.5, "background", fov=fov).stereo("tb", 3.0, 0.5, "background").fields()
    assert "field_of_view" not in again  # a new picture states only its own camera
    with pytest.raises(ValueError, match="baseline_m must be a positive number of metres"):
        _facts().stereo("sbs", 3.0, 0.5, "background", baseline_m=-0.06)
    with pytest.raises(ValueError, match="fov must be a FieldOfView or"):
        _facts().stereo("sbs", 3.0, 0.5, "background", fov=200.0)


@pytest.mark.parametrize(("layout", "says"), [("wiggle", "GIF, 256 colours"), ("orbit", "H.264 video")])
def test_animations_say_what_kind_of_file_they_are(layout, says):
    fields = _facts().stereo(layout, 3.0, 0.5, "background").fields()
    assert fields["layout"] == layout and fields["encoding"].startswith(says)
    assert fields["content"] == "stereo views rendered from relative inverse depth"


def test_a_mesh_says_it_is_a_mesh_in_relative_units_with_its_field_of_view():
    fields = _facts().with_extra(shape="3x5").mesh(52.0).fields()
    assert fields["content"] == "a triangle mesh of the depth, textured with the photo"
    assert fields["units"].startswith("unitless") and fields["field_of_view"] == "52.0° horizontal field of view"
    assert "shape" not in fields and fields["weights_sha256"] == SHA
    texture = _facts().mesh(52.0).texture().fields()  # the GLB's texture: the photo, no camera
    assert texture["content"] == "the photo, as the mesh's texture" and "field_of_view" not in texture


def test_facts_text_is_one_line_per_field_and_reads_back():
    fields = _facts().stereo("wiggle", 3.0, 0.5, "background", fov=60.0).text_fields()
    text = facts_text(fields)
    assert text.splitlines()[0] == "content: stereo views rendered from relative inverse depth"
    assert read_facts_text(text) == fields and read_facts_text(text.encode("utf-8")) == fields
    assert DepthFacts.from_fields(read_facts_text(text)).weights_sha256 == SHA
    assert read_facts_text("a comment someone else wrote\nlayout: wiggle") == {"layout": "wiggle"}
    with pytest.raises(ValueError, match="no line breaks"):
        facts_text({"note": "two\nlines"})
    with pytest.raises(ValueError, match="no line breaks"):
        facts_text({"a: b": "c"})


def test_a_mesh_texture_says_it_is_the_photo():
    text = _pillow_text(png_bytes(np.zeros((3, 5, 3), np.uint8), _facts().texture()))
    assert text["content"] == "the photo, as the mesh's texture" and text["units"] == "none: a picture, not values"
    assert text["weights_sha256"] == SHA and text["source_size"] == "5x3" and text["app_version"] == __version__
    assert "value_at_0" not in text and "max_code" not in text


def test_non_latin1_text_goes_into_itxt_and_reads_back():
    png = png_bytes(np.zeros((2, 3), np.uint8))
    data = png_with_text(png, {"note": "near = bright – 近い", "plain": "ascii", "number": 0.1})
    assert b"iTXt" in data and b"tEXt" in data
    assert _pillow_text(data) == read_png_text(data) == {"note": "near = bright – 近い", "plain": "ascii", "number": "0.1"}
    np.testing.assert_array_equal(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED), np.zeros((2, 3)))


def test_read_png_text_reads_compressed_chunks_written_by_pillow():
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("zipped", "x" * 200, zip=True)
    info.add_itxt("intl", "größe " * 30, zip=True)
    buffer = io.BytesIO()
    Image.new("L", (2, 2)).save(buffer, "PNG", pnginfo=info)
    assert read_png_text(buffer.getvalue()) == {"zipped": "x" * 200, "intl": "größe " * 30}


def test_png_text_refuses_bad_inputs():
    png = png_bytes(np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match="PNG"):
        png_with_text(b"GIF89a" + png[6:], {"a": "b"})
    for key in ("", "k" * 80, " padded", "two  spaces", "名前"):
        with pytest.raises(ValueError, match="keyword"):
            png_with_text(png, {key: "v"})
    with pytest.raises(ValueError, match="signature"):
        read_png_text(b"not a png")
    chunk = b"tEXt" + b"key\0value"
    truncated = png[:33] + struct.pack(">I", 500) + chunk + struct.pack(">I", zlib.crc32(chunk))
    with pytest.raises(ValueError, match="truncated"):
        read_png_text(truncated)
    with pytest.raises(TypeError, match="DepthFacts"):
        png_bytes(np.zeros((2, 2), np.uint8), {"content": "x"})


def test_sidecar_round_trips_and_rebuilds_the_facts(tmp_path):
    facts = _facts(64, 48).raw("float16", (4, 48, 64))
    data = sidecar_bytes(facts, depth="float16 (frames, H, W)", timestamps="float64 seconds")
    record = read_sidecar(data)
    assert record == {**facts.fields(), "arrays": {"depth": "float16 (frames, H, W)", "timestamps": "float64 seconds"}}
    assert record["encoding"].startswith("float16") and record["shape"] == "4x48x64"
    assert json.loads(data.decode("utf-8")) == record and data.endswith(b"\n")
    assert DepthFacts.from_fields(record) == facts
    assert DepthFacts.from_fields(_pillow_text(png16_bytes(_map(), metadata=_facts()))) == _facts().png16(
        float(_map().min()), float(_map().max()))
    (tmp_path / "clip_depth.npz").write_bytes(b"")
    assert sidecar_facts(tmp_path / "clip_depth.npz") is None  # no sidecar yet
    (tmp_path / sidecar_name("clip_depth.npz")).write_bytes(data)
    assert sidecar_facts(tmp_path / "clip_depth.npz") == facts


def test_sidecar_name_and_bad_records():
    assert sidecar_name("photo_inverse_depth.npy") == "photo_inverse_depth.npy.json"
    with pytest.raises(ValueError):
        sidecar_name("")
    for bad in (b"[1, 2]", b"{not json", b"\xff\xfe"):
        with pytest.raises(ValueError, match="sidecar"):
            read_sidecar(bad)
    with pytest.raises(ValueError, match="do not describe"):
        DepthFacts.from_fields({"model": "m"})
    with pytest.raises(TypeError, match="DepthFacts"):
        sidecar_bytes({"content": "x"})


@pytest.mark.parametrize(
    ("change", "error"),
    [({"network_size": 0}, ValueError), ({"source_size": (0, 4)}, ValueError), ({"source_size": [4, 4]}, ValueError),
     ({"model": None}, TypeError), ({"value_at_0": "low"}, TypeError), ({"max_code": -1}, ValueError),
     ({"extra": (("units", "feet"),)}, ValueError)],
)
def test_facts_check_their_fields(change, error):
    with pytest.raises(error):
        dataclasses.replace(_facts(), **change)


def test_facts_for_refuses_what_is_not_a_predictor_info():
    with pytest.raises(TypeError, match="PredictorInfo"):
        facts_for(object(), 4, 4)


def test_the_video_zip_s_pngs_carry_the_facts_of_the_npz_sidecar(tmp_path):
    import zipfile

    from core.video.pipeline import png16_zip

    npz = tmp_path / "clip_depth.npz"
    npz.write_bytes(b"")
    (tmp_path / sidecar_name(npz.name)).write_bytes(sidecar_bytes(_facts(4, 3).raw("float16", (2, 3, 4)), depth="x"))
    depth = np.stack([_map(3, 4), _map(3, 4) * 2]).astype(np.float16)
    with zipfile.ZipFile(io.BytesIO(png16_zip(depth, sidecar_facts(npz)))) as zf:
        texts = [_pillow_text(zf.read(f"frame_{k:05d}.png")) for k in range(2)]
    for k, text in enumerate(texts):
        assert text["frame"] == str(k) and text["weights_sha256"] == SHA and text["source_size"] == "4x3"
        assert (float(text["value_at_0"]), float(text["value_at_max"])) == (float(depth.min()), float(depth.max()))
        assert "shape" not in text and "arrays" not in text  # the clip's shape is not a frame's
