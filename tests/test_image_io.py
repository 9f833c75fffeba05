"""Tests for core.image_io: the hostile corpus through decode_image, plus the edges around it."""

from __future__ import annotations

import io
import os
import re
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile, ImageOps

from core import image_io
from core.image_io import (
    DEFAULT_MAX_PIXELS,
    SUPPORTED_FORMATS,
    ImageDecodeError,
    ImageInfo,
    decode_image,
    probe_image,
    read_image,
)
from tests.corpus import CorpusItem, bomb_items, hostile_corpus

REPO = Path(__file__).resolve().parents[1]
CORPUS = hostile_corpus()
BY_NAME = {item.name: item for item in CORPUS}


def _save(im: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def _decode(item: CorpusItem) -> np.ndarray:
    return decode_image(item.data, max_pixels=item.max_pixels or DEFAULT_MAX_PIXELS)


# ---------------------------------------------------------------- the corpus


@pytest.mark.parametrize("item", CORPUS, ids=[item.name for item in CORPUS])
def test_corpus_item(item: CorpusItem) -> None:
    if item.expect_error is not None:
        with pytest.raises(ImageDecodeError, match=re.escape(item.expect_error)):
            _decode(item)
    else:
        item.check(_decode(item))


def test_corpus_covers_the_required_cases() -> None:
    required = {
        "empty", "jpeg-truncated-half", "png-truncated-half", "png-declares-100000x100000",
        "svg-handed-in-as-png", "pdf", "psd", "eps", "heic-ftyp", "jpeg-cmyk-cyan", "png-16bit-gray",
        "png-palette-transparency", "png-rgba", "png-la", "gif-animated-3-frames", "jpeg-exif-orientation-3",
        "jpeg-exif-orientation-6", "jpeg-exif-orientation-8", "png-1x1", "png-1x5000", "jpeg-constant-colour",
        "webp-lossless", "bmp-rgb", "tiff-rgb", "tiff-float-0-1", "png-2000x2000-over-1mp-budget",
    }
    assert required <= BY_NAME.keys(), sorted(required - BY_NAME.keys())
    assert len(BY_NAME) == len(CORPUS), "corpus names must be unique"
    assert any(item.expect_error for item in CORPUS) and any(not item.expect_error for item in CORPUS)


@pytest.mark.parametrize(
    ("name", "pillow_format"),
    [
        ("psd", "PSD"),
        ("eps", "EPS"),
        ("eps-dos-binary-header", "EPS"),
        ("avif", "AVIF"),
        ("ico", "ICO"),
        ("jpeg2000", "JPEG2000"),
        ("ppm", "PPM"),
        ("mpo-2-images", "MPO"),
        ("gif-animated-3-frames", "GIF"),
    ],
)
def test_corpus_files_are_real(name: str, pillow_format: str) -> None:
    # Pillow itself opens these, so a refusal is this module's policy, not a parse failure.
    with Image.open(io.BytesIO(BY_NAME[name].data)) as im:
        assert im.format == pillow_format


def test_every_error_message_is_one_sentence_for_the_user() -> None:
    for item in CORPUS:
        if item.expect_error is None:
            continue
        with pytest.raises(ImageDecodeError) as info:
            _decode(item)
        message = str(info.value)
        assert "\n" not in message and message.endswith("."), (item.name, message)
        assert len(message) < 300, (item.name, message)
        assert "BytesIO" not in message and "object at 0x" not in message, (item.name, message)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF"])
def test_truncating_a_valid_file_is_refused(fmt: str) -> None:
    rng = np.random.default_rng(7)
    noise = Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8))
    data = _save(noise, fmt)
    assert decode_image(data).shape == (48, 48, 3)
    for cut in (len(data) // 3, len(data) // 2, (3 * len(data)) // 4):
        with pytest.raises(ImageDecodeError, match="truncated or corrupt"):
            decode_image(data[:cut])


def test_output_is_a_fresh_writeable_array() -> None:
    data = BY_NAME["png-rgb"].data
    first, second = decode_image(data), decode_image(data)
    assert first.flags.writeable and first.flags.c_contiguous
    first[:] = 0
    assert second[0, 0].tolist() == [255, 0, 0]


def test_format_comes_from_content_not_from_a_name() -> None:
    # The same bytes decode whatever they are called; there is no name to pass at all.
    assert SUPPORTED_FORMATS == ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")
    jpeg = BY_NAME["jpeg-constant-colour"].data
    assert decode_image(bytearray(jpeg)).shape == (48, 64, 3)
    assert decode_image(memoryview(jpeg)).shape == (48, 64, 3)


# ---------------------------------------------------------------- pixel budget


def test_max_pixels_is_inclusive() -> None:
    data = _save(Image.new("RGB", (200, 100), (1, 2, 3)), "PNG")
    assert decode_image(data, max_pixels=20_000).shape == (100, 200, 3)
    with pytest.raises(ImageDecodeError, match=re.escape("200×100 = 20,000 pixels, above the 19,999-pixel limit")):
        decode_image(data, max_pixels=19_999)
    with pytest.raises(ImageDecodeError, match=re.escape("200×100 = 0.02 MP, above the 0.01 MP limit")):
        decode_image(data, max_pixels=10_000)


def test_pillow_bomb_limit_caps_max_pixels(monkeypatch: pytest.MonkeyPatch) -> None:
    # A lower Image.MAX_IMAGE_PIXELS wins over a generous max_pixels, so anything Pillow
    # would warn about as a decompression bomb is refused with our message.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)
    data = _save(Image.new("RGB", (64, 64)), "JPEG")
    with pytest.raises(ImageDecodeError, match=re.escape("64×64 = 0.0041 MP, above the 0.001 MP limit")):
        decode_image(data, max_pixels=10**12)


@pytest.mark.parametrize(("bad", "error"), [(0, ValueError), (-5, ValueError), (1.5, TypeError), (True, TypeError)])
def test_max_pixels_is_validated(bad: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="max_pixels"):
        decode_image(BY_NAME["png-1x1"].data, max_pixels=bad)  # type: ignore[arg-type]


def test_data_must_be_bytes() -> None:
    with pytest.raises(TypeError, match="data must be bytes, got str"):
        decode_image("not bytes")  # type: ignore[arg-type]


def test_bombs_are_refused_within_a_small_address_space(tmp_path: Path) -> None:
    """Decoding any bomb would need >= 400 MB; the refusal must fit in 256 MB of address space.

    tracemalloc cannot see Pillow's or libwebp's C allocations, so the budget is enforced
    with RLIMIT_AS in a child process. The child first proves the limit bites.
    """
    pytest.importorskip("resource")  # POSIX only
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc to measure the address space")
    paths = []
    for item in bomb_items():
        path = tmp_path / item.name
        path.write_bytes(item.data)
        paths.append(str(path))
    script = textwrap.dedent(
        """
        import resource, sys
        from pathlib import Path
        from core.image_io import ImageDecodeError, decode_image, probe_image

        def vm_size():
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024

        budget = vm_size() + 256 * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (budget, budget))
        try:
            bytearray(400 * 2**20)
        except MemoryError:
            print("limit bites")
        for path in sys.argv[1:]:
            data = Path(path).read_bytes()
            for function in (probe_image, decode_image):
                try:
                    function(data)
                except ImageDecodeError as e:
                    print(f"{function.__name__} refused {Path(path).name}: {e}")
                else:
                    print(f"{function.__name__} ACCEPTED {Path(path).name}")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *paths],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "limit bites", result.stdout
    expected = [
        (f"{function} refused {item.name}: ", item.expect_error)
        for item in bomb_items()
        for function in ("probe_image", "decode_image")
    ]
    assert len(lines) == 1 + len(expected), result.stdout
    for (start, fragment), line in zip(expected, lines[1:]):
        assert line.startswith(start) and fragment in line, line


# ---------------------------------------------------------------- read_image


def test_read_image_ignores_the_extension(tmp_path: Path) -> None:
    jpeg_called_png = tmp_path / "photo.png"
    jpeg_called_png.write_bytes(BY_NAME["jpeg-exif-orientation-6"].data)
    BY_NAME["jpeg-exif-orientation-6"].check(read_image(jpeg_called_png))
    BY_NAME["jpeg-exif-orientation-6"].check(read_image(str(jpeg_called_png)))

    svg_called_png = tmp_path / "drawing.png"
    svg_called_png.write_bytes(BY_NAME["svg-handed-in-as-png"].data)
    with pytest.raises(ImageDecodeError, match=re.escape("Unsupported format SVG")):
        read_image(svg_called_png)


def test_read_image_passes_max_pixels(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(BY_NAME["png-2000x2000-over-1mp-budget"].data)
    assert read_image(path).shape == (2000, 2000, 3)
    with pytest.raises(ImageDecodeError, match=re.escape("above the 1 MP limit")):
        read_image(path, max_pixels=1_000_000)


def test_read_image_names_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jpg"
    with pytest.raises(ImageDecodeError, match=re.escape(f"Cannot read {missing} (No such file")):
        read_image(missing)


def test_read_image_refuses_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ImageDecodeError, match=re.escape(f"Cannot read {tmp_path}: it is not a regular file")):
        read_image(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_read_image_does_not_block_on_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(ImageDecodeError, match="not a regular file"):
        read_image(fifo)


def test_read_image_rejects_a_non_path() -> None:
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        read_image(3)  # type: ignore[arg-type]


# ---------------------------------------------------------------- probe_image


def test_probe_reports_the_size_a_viewer_shows() -> None:
    info = probe_image(BY_NAME["jpeg-exif-orientation-6"].data)  # stored 40 wide, 60 tall
    assert info == ImageInfo(format="JPEG", width=60, height=40, mode="RGB")
    assert str(info) == "60×40 JPEG"
    assert probe_image(BY_NAME["jpeg-exif-orientation-3"].data).width == 60


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("jpeg-cmyk-cyan", ImageInfo("JPEG", 16, 16, "CMYK")),
        ("png-16bit-gray", ImageInfo("PNG", 4, 1, "I;16")),
        ("gif-animated-3-frames", ImageInfo("GIF", 6, 4, "P")),
        ("webp-lossless", ImageInfo("WEBP", 60, 40, "RGB")),
        ("mpo-2-images", ImageInfo("JPEG", 6, 4, "RGB")),
    ],
)
def test_probe_reads_the_header(name: str, expected: ImageInfo) -> None:
    assert probe_image(BY_NAME[name].data) == expected


def test_probe_applies_the_pixel_budget() -> None:
    data = BY_NAME["png-2000x2000-over-1mp-budget"].data
    assert probe_image(data) == ImageInfo("PNG", 2000, 2000, "RGB")
    with pytest.raises(ImageDecodeError, match=re.escape("2000×2000 = 4 MP, above the 1 MP limit")):
        probe_image(data, max_pixels=1_000_000)


@pytest.mark.parametrize(
    "name",
    [
        "empty", "svg-handed-in-as-png", "psd", "heic-ftyp", "png-zero-width", "png-truncated-in-ihdr",
        "png-declares-100000x100000", "webp-declares-10000x10000",
    ],
)
def test_probe_refuses_what_decode_refuses(name: str) -> None:
    item = BY_NAME[name]
    assert item.expect_error is not None
    with pytest.raises(ImageDecodeError, match=re.escape(item.expect_error)):
        probe_image(item.data)


# ---------------------------------------------------------------- global state


def test_pillow_globals_are_left_alone() -> None:
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)
    for item in CORPUS:
        try:
            _decode(item)
            probe_image(item.data)
        except ImageDecodeError:
            pass
    assert (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES) == before
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # truncated files must raise, not be padded


# ---------------------------------------------------------------- fuzzing

_FUZZ_BASES = [
    _save(Image.fromarray(np.random.default_rng(3).integers(0, 256, (12, 10, 3), dtype=np.uint8)), fmt, **params)
    for fmt, params in [
        ("JPEG", {}), ("PNG", {}), ("WEBP", {}), ("WEBP", {"lossless": True}), ("BMP", {}), ("TIFF", {}),
        ("GIF", {}), ("TIFF", {"compression": "tiff_lzw"}), ("JPEG", {"progressive": True}),
    ]
]


def _assert_decodes_or_refuses(data: bytes) -> None:
    try:
        rgb = decode_image(data, max_pixels=1_000_000)
    except ImageDecodeError as e:
        assert str(e)
    else:
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.flags.c_contiguous
        assert 0 < rgb.shape[0] * rgb.shape[1] <= 1_000_000


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_random_bytes_only_raise_image_decode_error(data: bytes) -> None:
    _assert_decodes_or_refuses(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(_FUZZ_BASES),
    edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=6),
    cut=st.none() | st.integers(min_value=0),
)
def test_damaged_images_only_raise_image_decode_error(
    base: bytes, edits: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(base)
    for position, value in edits:
        data[position % len(data)] = value
    if cut is not None:
        del data[cut % len(data) :]
    _assert_decodes_or_refuses(bytes(data))


# ---------------------------------------------------------------- the JPEG fast path
#
# Plain JPEGs are decoded by OpenCV instead of Pillow. Each test below checks the pixels
# against Pillow's own decode, computed here without core.image_io, and checks which path
# decode_image took, so a silent fallback to Pillow cannot pass for the fast path.


def _photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Gradients plus grain: every 8x8 block has detail, like a photo. HxWx3 uint8."""
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) * 7 % 256], axis=-1)
    grain = np.random.default_rng(seed).normal(0.0, 6.0, base.shape)
    return np.clip(base + grain, 0, 255).astype(np.uint8)


def _jpeg(height: int, width: int, mode: str = "RGB", orientation: int | None = None, **params: object) -> bytes:
    im = Image.fromarray(_photo(height, width)).convert(mode)
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        params["exif"] = exif.tobytes()
    return _save(im, "JPEG", **params)


def _pillow_reference(data: bytes) -> np.ndarray:
    """What a photo viewer built on Pillow shows: the reference the fast path must equal."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


@pytest.fixture
def fast_path(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records, per decode_image call on a JPEG, whether the OpenCV path produced the array."""
    taken: list[bool] = []
    attempt = image_io._decode_plain_jpeg

    def spy(data: bytes, im: ImageFile.ImageFile) -> np.ndarray | None:
        rgb = attempt(data, im)
        taken.append(rgb is not None)
        return rgb

    monkeypatch.setattr(image_io, "_decode_plain_jpeg", spy)
    return taken


@pytest.fixture
def imdecode_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the calls decode_image makes to cv2.imdecode."""
    calls: list[int] = []
    imdecode = cv2.imdecode

    def counting(buf: np.ndarray, flags: int) -> np.ndarray | None:
        calls.append(flags)
        return imdecode(buf, flags)

    monkeypatch.setattr(image_io.cv2, "imdecode", counting)
    return calls


def _decode_with_pillow_only(data: bytes) -> np.ndarray:
    """decode_image with the fast path switched off: the gate as it was before it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(image_io, "_decode_plain_jpeg", lambda data, im: None)
        return decode_image(data)


def _assert_fast_and_exact(data: bytes, taken: list[bool]) -> np.ndarray:
    rgb = decode_image(data)
    assert taken == [True], "the OpenCV path was not taken"
    expected = _pillow_reference(data)
    assert rgb.shape == expected.shape and rgb.dtype == np.uint8
    assert rgb.flags.c_contiguous and rgb.flags.writeable
    np.testing.assert_array_equal(rgb, expected)
    return rgb


SIZES = [(1, 1), (7, 3), (333, 1001)]  # height, width: 1x1, 3x7 and 1001x333 pixels


@pytest.mark.parametrize("quality", [50, 75, 95, 100])
@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
@pytest.mark.parametrize("subsampling", [0, 1, 2], ids=["4:4:4", "4:2:2", "4:2:0"])
def test_rgb_jpegs_decode_fast_and_exactly(
    subsampling: int, progressive: bool, quality: int, fast_path: list[bool]
) -> None:
    for height, width in SIZES:
        fast_path.clear()
        data = _jpeg(height, width, quality=quality, subsampling=subsampling, progressive=progressive)
        assert _assert_fast_and_exact(data, fast_path).shape == (height, width, 3)


@pytest.mark.parametrize("quality", [50, 90, 100])
@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_grayscale_jpegs_decode_fast_and_exactly(progressive: bool, quality: int, fast_path: list[bool]) -> None:
    for height, width in SIZES:
        fast_path.clear()
        data = _jpeg(height, width, "L", quality=quality, progressive=progressive)
        rgb = _assert_fast_and_exact(data, fast_path)
        assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()


@pytest.mark.parametrize(
    "sampling",
    [
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR_411,
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR_440,
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
    ],
    ids=["4:1:1", "4:4:0", "4:2:0"],
)
@pytest.mark.parametrize("restart_interval", [0, 1, 5])
def test_opencv_written_jpegs_with_restart_markers_decode_fast_and_exactly(
    sampling: int, restart_interval: int, fast_path: list[bool]
) -> None:
    ok, encoded = cv2.imencode(
        ".jpg", _photo(101, 203),
        [cv2.IMWRITE_JPEG_QUALITY, 85, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, sampling,
         cv2.IMWRITE_JPEG_RST_INTERVAL, restart_interval],
    )
    assert ok
    data = encoded.tobytes()
    assert (b"\xff\xd0" in data) == (restart_interval > 0)
    _assert_fast_and_exact(data, fast_path)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize(("height", "width"), [(1, 1), (7, 3), (40, 61)])
def test_exif_orientation_matches_pillow_on_the_fast_path(
    orientation: int, height: int, width: int, fast_path: list[bool]
) -> None:
    data = _jpeg(height, width, orientation=orientation, quality=90)
    rgb = _assert_fast_and_exact(data, fast_path)
    turned = orientation in (5, 6, 7, 8)
    assert rgb.shape[:2] == ((width, height) if turned else (height, width))


def test_xmp_orientation_is_applied_as_pillow_applies_it(fast_path: list[bool]) -> None:
    # Pillow also reads tiff:Orientation from XMP when there is no EXIF block; OpenCV does not.
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description tiff:Orientation="6"/></x:xmpmeta>'
    data = _save(Image.fromarray(_photo(20, 30)), "JPEG", xmp=xmp)
    assert _assert_fast_and_exact(data, fast_path).shape == (30, 20, 3)


def test_the_big_photo_takes_the_fast_path(fast_path: list[bool], imdecode_calls: list[int]) -> None:
    data = _jpeg(1080, 1920, quality=92)
    _assert_fast_and_exact(data, fast_path)
    assert imdecode_calls == [cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION]


def test_cmyk_jpeg_takes_the_pillow_path(fast_path: list[bool], imdecode_calls: list[int]) -> None:
    data = BY_NAME["jpeg-cmyk-cyan"].data
    rgb = decode_image(data)
    assert fast_path == [False] and imdecode_calls == []
    np.testing.assert_array_equal(rgb, _pillow_reference(data))
    BY_NAME["jpeg-cmyk-cyan"].check(rgb)


def test_truncated_jpegs_never_reach_opencv(fast_path: list[bool], imdecode_calls: list[int]) -> None:
    # libjpeg pads a short file with grey; only Pillow notices, so the file must go to Pillow.
    data = _jpeg(40, 56, quality=90, progressive=True)
    between_scans = data.index(b"\xff\xc4", data.index(b"\xff\xda"))  # a DHT after the first scan
    cuts = [
        data[: len(data) // 2],
        data[:-2],  # all but the EOI
        data[: len(data) // 2] + b"\xff",
        data[: between_scans + 6] + b"\xff\xd9",  # ends in EOI bytes, but inside the DHT segment
    ]
    for cut in cuts:
        with pytest.raises(ImageDecodeError, match=re.escape("The file is truncated or corrupt: the JPEG data")):
            decode_image(cut)
    assert fast_path == [False] * len(cuts)
    assert imdecode_calls == []


def test_a_truncated_jpeg_is_refused_with_the_same_message_as_before() -> None:
    data = BY_NAME["jpeg-truncated-half"].data
    with pytest.raises(ImageDecodeError) as fast:
        decode_image(data)
    with pytest.raises(ImageDecodeError) as pillow:
        _decode_with_pillow_only(data)
    assert str(fast.value) == str(pillow.value)
    assert "image file is truncated" in str(fast.value)


@pytest.mark.parametrize(
    "trailer",
    [b"\x00" * 7, b"\xff\xd9", b"garbage after the image", b"second image"],
    ids=["zeros", "second-eoi", "text", "second-jpeg"],
)
def test_bytes_after_the_eoi_are_ignored_on_the_fast_path(trailer: bytes, fast_path: list[bool]) -> None:
    # Phones append videos and other data after the image (motion photos, MPO).
    data = _jpeg(31, 45, quality=90, orientation=6)
    if trailer == b"second image":
        trailer = _jpeg(8, 8, quality=50)
    rgb = _assert_fast_and_exact(data + trailer, fast_path)
    np.testing.assert_array_equal(rgb, decode_image(data))


def test_a_jpeg_whose_exif_pillow_cannot_rewrite_is_refused_as_before(fast_path: list[bool]) -> None:
    # After rotating, ImageOps.exif_transpose rewrites the EXIF block and fails on a tag
    # Pillow cannot write back (here ImageLength, 0x0108, stored as a rational).
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x011A] = 72.0  # XResolution, a rational
    block = exif.tobytes()
    endian = "<" if block[6:8] == b"II" else ">"
    block = block.replace(struct.pack(f"{endian}HH", 0x011A, 5), struct.pack(f"{endian}HH", 0x0108, 5))
    data = _save(Image.fromarray(_photo(4, 6)), "JPEG", exif=block)
    with pytest.raises(ImageDecodeError) as fast:
        decode_image(data)
    with pytest.raises(ImageDecodeError) as pillow:
        _decode_with_pillow_only(data)
    assert str(fast.value) == str(pillow.value)
    assert str(fast.value).startswith("The file is truncated or corrupt: the JPEG data could not be decoded")
    assert fast_path == [False]


def _raise_cv2_error(buf: np.ndarray, flags: int) -> np.ndarray:
    raise cv2.error("simulated OpenCV failure")


@pytest.mark.parametrize(
    "imdecode",
    [
        lambda buf, flags: None,
        _raise_cv2_error,
        lambda buf, flags: np.zeros((45, 31, 3), np.uint8),  # stored 31 wide, 45 tall: transposed
        lambda buf, flags: np.zeros((31, 45), np.uint8),
    ],
    ids=["none", "cv2-error", "wrong-shape", "no-channels"],
)
def test_pillow_decides_when_opencv_fails_or_surprises(
    imdecode: Callable[[np.ndarray, int], np.ndarray], fast_path: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _jpeg(31, 45, quality=90, orientation=6)
    monkeypatch.setattr(image_io.cv2, "imdecode", imdecode)
    rgb = decode_image(data)
    assert fast_path == [False]
    np.testing.assert_array_equal(rgb, _pillow_reference(data))


@pytest.mark.parametrize(
    ("data", "end"),
    [
        (b"\xff\xd8\xff\xd9", 4),
        (b"\xff\xd8\xff\xfe\x00\x04hi\x12\xff\x00\xff\xd9tail", 13),  # comment, garbage, stuffed 0xFF
        (b"\xff\xd8\xff\xda\x00\x02\x01\xff\xd0\x02\xff\xff\xd9", 13),  # restart marker, fill byte
        (b"\xff\xd8\xff\xfe\x00\x04\xff\xd9\xff\xd9", 10),  # the comment holds an EOI, the real one follows
        (b"\xff\xd8\xff\xfe\x00\x04\xff\xd9", None),  # the only EOI is inside the comment
        (b"\xff\xd8\xff\xfe\x00\x06\xff\xd9", None),  # ... of a comment longer than the file
        (b"\xff\xd8\xff\xfe\x00\x01\xff\xd9", None),  # a length below 2
        (b"\xff\xd8\xff\xc9\x00\x02\xff\xd9", None),  # arithmetic-coded frame
        (b"\xff\xd8\xff\xc3\x00\x02\xff\xd9", None),  # lossless frame
        (b"\xff\xd8\xff\xd8\xff\xd9", None),  # a second SOI
        (b"\xff\xd8\xff\xfe\x00", None),  # cut inside a length field
        (b"\xff\xd8\xff\xda\x00\x02\x01\x02\x03", None),  # scan data runs to the end
    ],
)
def test_jpeg_end_walks_markers_as_libjpeg_does(data: bytes, end: int | None) -> None:
    assert image_io._jpeg_end(data) == end


_FUZZ_JPEGS = [
    _jpeg(29, 45, quality=80, orientation=6),
    _jpeg(29, 45, "L", quality=80, progressive=True, orientation=8),
    _jpeg(29, 45, quality=80, subsampling=0, progressive=True),
    cv2.imencode(".jpg", _photo(40, 64), [cv2.IMWRITE_JPEG_RST_INTERVAL, 1])[1].tobytes(),
]


def _outcome(decode: Callable[[bytes], np.ndarray], data: bytes) -> tuple[str, object]:
    try:
        return "pixels", decode(data)
    except ImageDecodeError as e:
        return "refused", str(e)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(_FUZZ_JPEGS),
    edits=st.lists(
        st.tuples(st.integers(min_value=0), st.sampled_from([0x00, 0xFF, 0xD9, 0xDA, 0xC4, 0x12, 0x80])),
        min_size=1, max_size=6,
    ),
    cut=st.none() | st.integers(min_value=2),
)
def test_damaged_jpegs_give_what_pillow_gives(base: bytes, edits: list[tuple[int, int]], cut: int | None) -> None:
    # Damage that keeps an EOI (or cuts and appends one) reaches OpenCV; it must still
    # give the very pixels, or the very refusal, of the Pillow path.
    data = bytearray(base)
    for position, value in edits:
        data[2 + position % (len(data) - 2)] = value
    if cut is not None:
        data = data[: cut % len(data)] + b"\xff\xd9"
    fast_kind, fast = _outcome(decode_image, bytes(data))
    pillow_kind, pillow = _outcome(_decode_with_pillow_only, bytes(data))
    assert fast_kind == pillow_kind, (fast, pillow)
    if fast_kind == "pixels":
        np.testing.assert_array_equal(fast, pillow)
    else:
        assert fast == pillow


def test_a_rotated_jpeg_whose_exif_pillow_cannot_rewrite_is_refused_with_a_message() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: exif_transpose rewrites the block
    exif[0x011A] = 72.0  # XResolution, a rational...
    raw = exif.tobytes()
    bad = raw.replace(b"\x1a\x01", b"\x0f\x01") if b"II*" in raw[:10] else raw.replace(b"\x01\x1a", b"\x01\x0f")
    assert bad != raw  # ...now under the id of Make, an ASCII tag
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (10, 200, 30)).save(buffer, "JPEG", exif=bad)
    with pytest.raises(ImageDecodeError, match="truncated or corrupt"):
        decode_image(buffer.getvalue())
