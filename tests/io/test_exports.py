from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from core import __version__
from core.geometry.stereo import compose, stereo_pair
from core.io.metadata import DepthFacts
from core.maps.normalize import sanitize, to_uint16
from core.io.exports import file_stem, jpeg_bytes, jpeg_bytes_async, npy_bytes, ply_bytes, png16_bytes, png_bytes, read_ply_vertices, side_by_side
from core.io.exports import stereo_png_bytes
from core.geometry.pointcloud import PointCloud, build_point_cloud

SIZES = [(1, 1), (2, 3), (31, 17), (120, 160)]


def _decode(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


def _cloud(n: int, seed: int = 0) -> PointCloud:
    rng = np.random.default_rng(seed)
    xyz = rng.normal(size=(n, 3)).astype(np.float32)
    rgb = rng.integers(0, 256, size=(n, 3)).astype(np.uint8)
    return PointCloud(xyz, rgb)


# ---------------------------------------------------------------- PNG


@pytest.mark.parametrize("shape", SIZES)
def test_png_rgb_round_trip_keeps_channel_order(shape) -> None:
    rgb = np.random.default_rng(1).integers(0, 256, size=(*shape, 3)).astype(np.uint8)
    rgb[0, 0] = (255, 0, 0)  # pure red must stay red
    data = png_bytes(rgb)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    decoded = cv2.cvtColor(_decode(data).reshape(*shape, 3), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(decoded, rgb)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_gray_round_trip(dtype) -> None:
    gray = np.array([[0, 1], [np.iinfo(dtype).max, 7]], dtype)
    decoded = _decode(png_bytes(gray))
    assert decoded.dtype == dtype
    np.testing.assert_array_equal(decoded, gray)


@pytest.mark.parametrize(
    "image",
    [np.zeros((2, 2), np.float32), np.zeros((2, 2, 3), np.float32), np.zeros((2, 2, 4), np.uint8), np.zeros(4, np.uint8)],
)
def test_png_rejects_unsupported_images(image: np.ndarray) -> None:
    with pytest.raises(TypeError, match="HxWx3 uint8"):
        png_bytes(image)


# ---------------------------------------------------------------- JPEG (for the screen)


def test_jpeg_of_a_heatmap_looks_like_it_and_keeps_channel_order() -> None:
    from core.maps.colormaps import colorize

    depth = cv2.resize(np.random.default_rng(3).random((12, 16)).astype(np.float32), (320, 240),
                       interpolation=cv2.INTER_CUBIC)
    heat = colorize(depth, "inferno")
    data = jpeg_bytes(heat, quality=90)
    assert data[:3] == b"\xff\xd8\xff" and len(data) < len(png_bytes(heat))
    decoded = cv2.cvtColor(_decode(data), cv2.COLOR_BGR2RGB)
    assert decoded.shape == heat.shape
    assert np.abs(decoded.astype(int) - heat).mean() < 2.0  # smooth map: visually the same
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 255
    r, _, b = cv2.cvtColor(_decode(jpeg_bytes(red)), cv2.COLOR_BGR2RGB)[8, 8]
    assert r > 240 and b < 16  # red stays red, not blue


def test_background_jpegs_equal_the_direct_ones_and_errors_surface_at_result() -> None:
    images = [np.full((9, 7, 3), v, np.uint8) for v in (0, 128, 255)]
    assert jpeg_bytes_async(images).result(timeout=30) == [jpeg_bytes(i) for i in images]
    with pytest.raises(TypeError, match="uint8"):
        jpeg_bytes_async([np.zeros((2, 2), np.float32)]).result(timeout=30)


@pytest.mark.parametrize(
    ("image", "quality", "error"),
    [(np.zeros((2, 2), np.uint16), 90, TypeError), (np.zeros((2, 2, 3), np.float32), 90, TypeError),
     (np.zeros((2, 2, 3), np.uint8), 0, ValueError), (np.zeros((2, 2, 3), np.uint8), 101, ValueError)],
)
def test_jpeg_refuses_what_it_cannot_encode(image, quality, error) -> None:
    with pytest.raises(error, match="uint8|quality"):
        jpeg_bytes(image, quality=quality)


@pytest.mark.parametrize("shape", SIZES)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_png16_round_trip_equals_to_uint16(shape, dtype) -> None:
    depth = np.random.default_rng(2).random(shape).astype(dtype)
    decoded = _decode(png16_bytes(depth))
    assert decoded.dtype == np.uint16 and decoded.shape == shape
    np.testing.assert_array_equal(decoded, to_uint16(depth))


def test_png16_near_is_bright_and_non_finite_is_clean() -> None:
    depth = np.array([[0.0, 2.0], [np.nan, np.inf]], np.float32)
    np.testing.assert_array_equal(_decode(png16_bytes(depth)), [[0, 65535], [0, 65535]])
    np.testing.assert_array_equal(_decode(png16_bytes(depth, lo=0.0, hi=4.0)), [[0, 32768], [0, 32768]])


# ---------------------------------------------------------------- NPY


@pytest.mark.parametrize("shape", SIZES)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_npy_round_trip(shape, dtype) -> None:
    depth = np.random.default_rng(3).normal(size=shape).astype(dtype)
    loaded = np.load(io.BytesIO(npy_bytes(depth)), allow_pickle=False)
    assert loaded.dtype == np.float32 and loaded.shape == shape
    np.testing.assert_array_equal(loaded, depth.astype(np.float32))


def test_npy_is_finite() -> None:
    depth = np.array([[np.nan, 1.0], [3.0, -np.inf]], np.float32)
    loaded = np.load(io.BytesIO(npy_bytes(depth)), allow_pickle=False)
    np.testing.assert_array_equal(loaded, sanitize(depth))
    assert np.all(np.isfinite(loaded))


# ---------------------------------------------------------------- PLY


@pytest.mark.parametrize("n", [0, 1, 7, 1000])
def test_binary_ply_layout_and_round_trip(n: int) -> None:
    cloud = _cloud(n, seed=n)
    data = ply_bytes(cloud)
    header, _, body = data.partition(b"end_header\n")
    assert b"format binary_little_endian 1.0\n" in header
    assert f"element vertex {n}\n".encode() in header
    assert b"property float x\nproperty float y\nproperty float z\n" in header
    assert b"property uchar red\nproperty uchar green\nproperty uchar blue\n" in header
    assert len(body) == n * 15  # 3 float32 + 3 uint8
    xyz, rgb = read_ply_vertices(data)
    np.testing.assert_array_equal(xyz, cloud.xyz)
    np.testing.assert_array_equal(rgb, cloud.rgb)
    assert xyz.dtype == np.float32 and rgb.dtype == np.uint8


def test_binary_ply_first_vertex_bytes() -> None:
    cloud = PointCloud(np.array([[1.0, -2.0, 0.5]], np.float32), np.array([[255, 0, 7]], np.uint8))
    body = ply_bytes(cloud).partition(b"end_header\n")[2]
    assert body == np.array([1.0, -2.0, 0.5], "<f4").tobytes() + bytes([255, 0, 7])


@pytest.mark.parametrize("n", [0, 1, 50])
def test_ascii_ply_round_trip_is_exact(n: int) -> None:
    cloud = _cloud(n, seed=10 + n)
    data = ply_bytes(cloud, binary=False)
    assert b"format ascii 1.0\n" in data
    xyz, rgb = read_ply_vertices(data)
    np.testing.assert_array_equal(xyz, cloud.xyz)
    np.testing.assert_array_equal(rgb, cloud.rgb)


def test_ply_of_a_built_cloud_has_exactly_its_points() -> None:
    inv = np.random.default_rng(4).random((90, 120)).astype(np.float32)
    inv[:10] = np.nan
    cloud = build_point_cloud(inv, np.full((90, 120, 3), 9, np.uint8), budget=2000)
    xyz, rgb = read_ply_vertices(ply_bytes(cloud))
    assert len(xyz) == len(cloud.xyz) > 0
    assert np.all(np.isfinite(xyz)) and np.all(rgb == 9)


def test_ply_rejects_non_clouds() -> None:
    with pytest.raises(TypeError, match="PointCloud"):
        ply_bytes(np.zeros((3, 3), np.float32))


def test_read_ply_rejects_bad_input() -> None:
    data = ply_bytes(_cloud(3))
    with pytest.raises(ValueError, match="bytes of vertex data"):
        read_ply_vertices(data[:-1])
    with pytest.raises(ValueError, match="not a PLY"):
        read_ply_vertices(b"solid stl\n")
    with pytest.raises(ValueError, match="unsupported PLY format"):
        read_ply_vertices(data.replace(b"binary_little_endian", b"binary_big_endian"))
    with pytest.raises(ValueError, match="properties"):
        read_ply_vertices(data.replace(b"property uchar blue", b"property float blue"))
    with pytest.raises(TypeError, match="bytes"):
        read_ply_vertices("ply\n")


# ---------------------------------------------------------------- stereo PNG (the Stereo page's downloads)


@pytest.mark.parametrize(("layout", "shape"), [("sbs", (6, 20, 3)), ("cross", (6, 20, 3)), ("tb", (12, 10, 3)),
                                               ("anaglyph", (6, 10, 3))])
def test_stereo_png_is_the_composed_pair_and_states_what_it_is(layout, shape) -> None:
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, size=(6, 10, 3)).astype(np.uint8)
    depth = rng.random((6, 10)).astype(np.float32)
    facts = DepthFacts("MiDaS v2.1 small", "ef" * 32, 256, (10, 6))
    data = stereo_png_bytes(rgb, depth, layout, 8.0, 0.3, "background", facts)
    pair = stereo_pair(rgb, depth, 8.0, 0.3, fill="background")
    with Image.open(io.BytesIO(data)) as im:
        text, pixels = dict(im.text), np.asarray(im.convert("RGB"))
    assert pixels.shape == shape
    np.testing.assert_array_equal(pixels, compose(pair.left.image, pair.right.image, layout))
    assert text["content"] == "stereo views rendered from relative inverse depth" and text["layout"] == layout
    assert text["strength"].startswith("8 % of the width") and text["convergence"].startswith("0.3 ")
    assert text["weights_sha256"] == "ef" * 32 and text["source_size"] == "10x6" and text["app_version"] == __version__
    with pytest.raises(ValueError, match="layout must be one of"):
        stereo_png_bytes(rgb, depth, "vr", 8.0, 0.3, "background", facts)
    with pytest.raises(TypeError, match="DepthFacts"):
        stereo_png_bytes(rgb, depth, layout, 8.0, 0.3, "background", None)


# ---------------------------------------------------------------- side_by_side


@pytest.mark.parametrize("shape", SIZES)
def test_side_by_side_same_size(shape) -> None:
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, size=(*shape, 3)).astype(np.uint8)
    heat = rng.integers(0, 256, size=(*shape, 3)).astype(np.uint8)
    out = side_by_side(rgb, heat)
    assert out.shape == (shape[0], 2 * shape[1], 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, : shape[1]], rgb)
    np.testing.assert_array_equal(out[:, shape[1] :], heat)


@pytest.mark.parametrize("heat_shape,expected_width", [((50, 80), 32), ((10, 10), 20), ((60, 4), 1)])
def test_side_by_side_resizes_heatmap_to_image_height(heat_shape, expected_width: int) -> None:
    rgb = np.zeros((20, 30, 3), np.uint8)
    heat = np.full((*heat_shape, 3), 200, np.uint8)
    out = side_by_side(rgb, heat)
    assert out.shape == (20, 30 + expected_width, 3)
    assert np.all(out[:, 30:] == 200)  # a flat heatmap stays flat when resized


def test_side_by_side_validation() -> None:
    with pytest.raises(ValueError, match="heatmap"):
        side_by_side(np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match="rgb"):
        side_by_side(np.zeros((2, 2, 3), np.float32), np.zeros((2, 2, 3), np.uint8))


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("photo.jpg", "photo"),
        ("my photo (1).JPG", "my_photo_1"),
        ("été à Paris.png", "t_Paris"),  # non-ASCII letters become "_", then the ends are trimmed
        ("scan.v2.tiff", "scan_v2"),  # only the last extension goes
        ("no_extension", "no_extension"),
        ("keep-dash_and_underscore.webp", "keep-dash_and_underscore"),
        ("..png", "image"),
        ("", "image"),
    ],
)
def test_file_stem_keeps_safe_characters(name: str, stem: str) -> None:
    assert file_stem(name) == stem


def test_file_stem_refuses_a_non_string() -> None:
    with pytest.raises(TypeError, match="file name"):
        file_stem(b"photo.jpg")  # type: ignore[arg-type]
