"""Round trips of the dashboard's downloads on a real prediction, read back with other readers.

tests/io/test_exports.py checks the encoders on small arrays with the project's own reader.
Here a sample photo's prediction goes through the same calls the download buttons make,
and comes back through Pillow (16-bit PNG), numpy with allow_pickle=False (.npy) and an
independent PLY header parser, as another program would read the files.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from core.maps.normalize import to_uint16
from core.maps.stats import depth_stats, histogram
from core.io.exports import npy_bytes, ply_bytes, png16_bytes
from core.geometry.pointcloud import COLOR_MODES, CloudSettings, build_cloud
from core.io.images import read_image
from tests.conftest import REPO
from core.maps.view import SUMMARY_PERCENTILES as PERCENTILES


@pytest.fixture(scope="module")
def prediction(predictor):
    rgb = read_image(REPO / "samples" / "rocket.jpg")
    return rgb, predictor.predict(rgb)


def test_16bit_png_holds_the_quantised_map_with_near_bright(prediction) -> None:
    _, depth = prediction
    with Image.open(io.BytesIO(png16_bytes(depth))) as image:
        assert image.mode in ("I;16", "I")
        values = np.asarray(image).astype(np.int64)
    assert values.shape == depth.shape
    np.testing.assert_array_equal(values, to_uint16(depth))
    assert values.min() == 0 and values.max() == 65535
    near, far = np.unravel_index(depth.argmax(), depth.shape), np.unravel_index(depth.argmin(), depth.shape)
    assert values[near] == 65535 and values[far] == 0
    step = (depth.max() - depth.min()) / 65535
    np.testing.assert_allclose(depth.min() + values * step, depth, atol=step)  # dequantises within a step


def test_npy_loads_without_pickle_and_is_the_raw_map(prediction) -> None:
    _, depth = prediction
    loaded = np.load(io.BytesIO(npy_bytes(depth)), allow_pickle=False)
    assert loaded.dtype == np.float32 and loaded.shape == depth.shape
    np.testing.assert_array_equal(loaded, depth)


def _read_ply(data: bytes) -> tuple[dict, np.ndarray]:
    """Parse a binary little-endian PLY from its header, as a generic reader does."""
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii").splitlines()
    assert header[0] == "ply" and header[1] == "format binary_little_endian 1.0"
    types = {"float": "<f4", "uchar": "u1", "double": "<f8", "int": "<i4"}
    count, fields = 0, []
    for line in header:
        words = line.split()
        if words[0] == "element":
            assert words[1] == "vertex"
            count = int(words[2])
        elif words[0] == "property":
            fields.append((words[2], types[words[1]]))
    vertices = np.frombuffer(data, dtype=np.dtype(fields), count=count, offset=end)
    assert end + vertices.nbytes == len(data), "no bytes beyond the declared vertices"
    return {"count": count, "fields": [f[0] for f in fields]}, vertices


@pytest.mark.parametrize("colors", COLOR_MODES)
@pytest.mark.parametrize("budget", [1, 5_000, 50_000])
def test_ply_has_exactly_the_cloud_points(prediction, colors: str, budget: int) -> None:
    rgb, depth = prediction
    settings = CloudSettings(
        fov_deg=60.0, scale=1.0, shift=0.1, keep_pct=(2.0, 95.0), budget=budget, colors=colors,
        cmap="inferno", clip_pct=(1.0, 99.0), invert=False,
    )
    cloud = build_cloud(depth, rgb, depth_stats(depth, PERCENTILES), histogram(depth, bins=4096), settings)
    assert 0 < len(cloud) <= budget
    meta, vertices = _read_ply(ply_bytes(cloud))
    assert meta["count"] == len(cloud)
    assert meta["fields"] == ["x", "y", "z", "red", "green", "blue"]
    np.testing.assert_array_equal(np.stack([vertices["x"], vertices["y"], vertices["z"]], axis=1), cloud.xyz)
    np.testing.assert_array_equal(np.stack([vertices["red"], vertices["green"], vertices["blue"]], axis=1), cloud.rgb)
