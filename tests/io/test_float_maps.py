"""core/io/float_maps.py: PFM as the official run.py writes it, and OpenEXR float32, both bit-exact."""
from __future__ import annotations

import io
import re

import numpy as np
import pytest

from core.io.float_maps import exr_bytes, pfm_bytes, read_exr, read_pfm
from core.io.metadata import DepthFacts

FACTS = DepthFacts("MiDaS v2.1 small", "ab" * 32, 256, (7, 5))


def _official_read_pfm(data: bytes) -> tuple[np.ndarray, float]:
    """MiDaS utils.read_pfm, line by line (readline header, the byte order from the scale's sign)."""
    f = io.BytesIO(data)
    header = f.readline().decode("utf-8").rstrip()
    assert header in ("PF", "Pf")
    dim = re.match(r"^(\d+)\s(\d+)\s$", f.readline().decode("utf-8"))
    assert dim, "malformed PFM header"
    width, height = map(int, dim.groups())
    scale = float(f.readline().decode("utf-8").rstrip())
    endian = "<" if scale < 0 else ">"
    pixels = np.frombuffer(f.read(), endian + "f")
    shape = (height, width, 3) if header == "PF" else (height, width)
    return np.flipud(np.reshape(pixels, shape)), abs(scale)


def _maps():
    rng = np.random.default_rng(14)
    yield np.float32([[1.5]])
    yield rng.standard_normal((5, 7)).astype(np.float32) * 1e3
    yield rng.random((48, 64)).astype(np.float32)
    special = rng.random((3, 4)).astype(np.float32)
    special[0, 0], special[1, 1], special[2, 2], special[0, 3] = np.nan, np.inf, -np.inf, 1e-42  # subnormal
    yield special


@pytest.mark.parametrize("depth", list(_maps()), ids=lambda d: "x".join(map(str, d.shape)))
def test_pfm_round_trips_bit_for_bit_and_reads_with_the_official_reader(depth):
    data = pfm_bytes(depth)
    back, scale = read_pfm(data)
    assert back.dtype == np.float32 and back.shape == depth.shape and scale == 1.0
    assert back.tobytes() == depth.tobytes()  # exact, NaN and inf included
    official, official_scale = _official_read_pfm(data)
    assert official.tobytes() == depth.tobytes() and official_scale == 1.0


def test_pfm_layout_is_run_py_s():
    depth = np.arange(6, dtype=np.float32).reshape(2, 3)  # rows [0 1 2], [3 4 5]
    data = pfm_bytes(depth)
    assert data.startswith(b"Pf\n3 2\n-1.000000\n")  # grayscale, W H, negative scale = little-endian
    body = np.frombuffer(data[len(b"Pf\n3 2\n-1.000000\n"):], "<f4")
    assert body.tolist() == [3.0, 4.0, 5.0, 0.0, 1.0, 2.0]  # the bottom row first
    assert len(data) == 17 + 6 * 4


def test_pfm_of_float64_and_int_maps_is_their_float32_values():
    depth = np.array([[0.1, 2.0], [3.0, 1e-8]])
    assert read_pfm(pfm_bytes(depth))[0].tobytes() == depth.astype(np.float32).tobytes()
    assert read_pfm(pfm_bytes(np.arange(4).reshape(2, 2)))[0].tolist() == [[0.0, 1.0], [2.0, 3.0]]


def test_read_pfm_reads_big_endian_and_colour_files():
    rgb = np.arange(2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3)
    data = b"PF\n3 2\n2.5\n" + np.flipud(rgb).astype(">f4").tobytes()
    back, scale = read_pfm(data)
    assert scale == 2.5 and back.dtype == np.float32 and back.tobytes() == rgb.tobytes()


@pytest.mark.parametrize("bad", [b"", b"P6\n3 2\n255\n", b"Pf\n3 x\n-1\n", b"Pf\n3 2\n-1.0\n" + b"\0" * 23])
def test_read_pfm_refuses_what_is_not_a_whole_pfm(bad):
    with pytest.raises(ValueError, match="PFM"):
        read_pfm(bad)


@pytest.mark.parametrize("bad", [np.zeros((2, 2, 3), np.float32), np.zeros((0, 4), np.float32), np.array([["a"]])])
def test_writers_refuse_what_is_not_a_real_map(bad):
    for write in (pfm_bytes, exr_bytes):
        with pytest.raises(ValueError, match="HxW"):
            write(bad)
    with pytest.raises(TypeError, match="ndarray"):
        pfm_bytes([[1.0]])


@pytest.mark.parametrize("depth", list(_maps()), ids=lambda d: "x".join(map(str, d.shape)))
def test_exr_round_trips_bit_for_bit_with_the_facts_in_its_header(depth):
    facts = FACTS.raw("float32", depth.shape)
    channels, attributes = read_exr(exr_bytes(depth, facts))
    assert list(channels) == ["Y"]  # grayscale: viewers show near = bright
    assert channels["Y"].dtype == np.float32 and channels["Y"].tobytes() == depth.tobytes()
    assert attributes == facts.text_fields()


def test_exr_of_metric_depth_uses_the_z_channel_and_says_metres():
    depth = np.float32([[1.25, 2.5], [0.0, 4.0]])
    facts = FACTS.metric(0.2, 0.05).raw("float32", depth.shape)
    channels, attributes = read_exr(exr_bytes(depth, facts))
    assert list(channels) == ["Z"] and channels["Z"].tobytes() == depth.tobytes()
    assert attributes["units"] == "metres" and float(attributes["scale"]) == 0.2 and float(attributes["shift"]) == 0.05
    assert list(read_exr(exr_bytes(depth))[0]) == ["Y"] and read_exr(exr_bytes(depth))[1] == {}
    assert list(read_exr(exr_bytes(depth, channel="depth.Z"))[0]) == ["depth.Z"]


def test_exr_refuses_bad_arguments_and_files():
    depth = np.zeros((2, 2), np.float32)
    with pytest.raises(TypeError, match="DepthFacts"):
        exr_bytes(depth, {"units": "metres"})
    with pytest.raises(ValueError, match="channel"):
        exr_bytes(depth, channel="")
    with pytest.raises(ValueError, match="OpenEXR"):
        read_exr(b"Pf\n1 1\n-1\n\0\0\0\0")
    with pytest.raises(ValueError, match="OpenEXR"):
        read_exr(exr_bytes(depth)[:40])  # the magic number, then a cut-off header
