"""Tests for core.io.images: the hostile corpus through decode_image, plus the edges around it."""

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

from core.io import images as image_io
from core.io.images import (
    DEFAULT_MAX_PIXELS,
    SUPPORTED_FORMATS,
    ImageDecodeError,
    ImageInfo,
    Reduction,
    decode_image,
    decode_with_reduction,
    probe_image,
    read_image,
    read_with_reduction,
)
from tests.corpus import CorpusItem, bomb_items, hostile_corpus

REPO = Path(__file__).resolve().parents[2]
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
    # would warn about as a decompression bomb is refused with our message, or, for a
    # JPEG, decoded reduced to within it.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)
    data = _save(Image.new("RGB", (64, 64)), "PNG")
    with pytest.raises(ImageDecodeError, match=re.escape("64×64 = 0.0041 MP, above the 0.001 MP limit")):
        decode_image(data, max_pixels=10**12)
    decoded = decode_with_reduction(_save(Image.new("RGB", (64, 64)), "JPEG"), max_pixels=10**12)
    assert decoded.rgb.shape == (16, 16, 3)  # 1/2 scale would be 1,024 pixels
    assert decoded.reduction is not None and decoded.reduction.max_pixels == 1_000


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
        from core.io.images import ImageDecodeError, decode_image, probe_image

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
# against Pillow's own decode, computed here without core.io.images, and checks which path
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


def _pillow_reference(data: bytes, scale: int = 1) -> np.ndarray:
    """What a photo viewer built on Pillow shows: the reference the fast path must equal.

    With ``scale`` > 1, what Pillow's own JPEG draft mode decodes at ``1/scale``.
    """
    with Image.open(io.BytesIO(data)) as im:
        if scale > 1:
            reduced = (-(-im.width // scale), -(-im.height // scale))  # each side divided, rounded up
            im.draft(im.mode, (im.width // scale, im.height // scale))
            assert im.size == reduced, "Pillow did not draft at 1/scale"
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


@pytest.fixture
def fast_path(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records, per decode_image call on a JPEG, whether the OpenCV path produced the array."""
    taken: list[bool] = []
    attempt = image_io._decode_plain_jpeg

    def spy(data: bytes, im: ImageFile.ImageFile, scale: int = 1) -> np.ndarray | None:
        rgb = attempt(data, im, scale)
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


def _decode_with_pillow_only(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """decode_image with the fast path switched off: the gate as it was before it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(image_io, "_decode_plain_jpeg", lambda *args: None)
        return decode_image(data, max_pixels=max_pixels)


def _assert_fast_and_exact(
    data: bytes, taken: list[bool], max_pixels: int = DEFAULT_MAX_PIXELS, scale: int = 1
) -> np.ndarray:
    rgb = decode_image(data, max_pixels=max_pixels)
    assert taken == [True], "the OpenCV path was not taken"
    expected = _pillow_reference(data, scale)
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


# ---------------------------------------------------------------- large photos: reduced decoding
#
# A JPEG above the pixel budget is decoded at 1/2 or 1/4 scale by libjpeg's DCT scaling. Most
# tests use a small max_pixels so that small files exercise the same code; one test decodes a
# real 48 MP file (8000x6000 in four flat colours encodes to under 1 MB in a fraction of a second).

_QUADRANTS = ((230, 30, 30), (30, 200, 40), (40, 60, 220), (240, 240, 240))  # TL, TR, BL, BR
_FAST_FLAGS = cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION


def _quadrant_jpeg(width: int, height: int) -> bytes:
    """A width x height JPEG in four flat colours (top-left red, top-right green, ...)."""
    im = Image.new("RGB", (width, height), _QUADRANTS[0])
    im.paste(_QUADRANTS[1], (width // 2, 0, width, height // 2))
    im.paste(_QUADRANTS[2], (0, height // 2, width // 2, height))
    im.paste(_QUADRANTS[3], (width // 2, height // 2, width, height))
    return _save(im, "JPEG", quality=90)


@pytest.fixture(scope="module")
def jpeg_48mp() -> bytes:
    return _quadrant_jpeg(8000, 6000)


def test_a_48_mp_jpeg_is_decoded_at_half_scale(
    jpeg_48mp: bytes, fast_path: list[bool], imdecode_calls: list[int]
) -> None:
    decoded = decode_with_reduction(jpeg_48mp)
    assert decoded.reduction == Reduction(2, 4000, 3000, 8000, 6000, DEFAULT_MAX_PIXELS)
    assert str(decoded.reduction) == (
        "decoded at 1/2 scale: 4000×3000 from 8000×6000 (48 MP, above the 40 MP limit for full resolution)"
    )
    assert decoded.rgb.shape == (3000, 4000, 3) and decoded.rgb.flags.c_contiguous and decoded.rgb.flags.writeable
    assert fast_path == [True] and imdecode_calls == [_FAST_FLAGS | cv2.IMREAD_REDUCED_GRAYSCALE_2]
    np.testing.assert_array_equal(decoded.rgb, _pillow_reference(jpeg_48mp, 2))
    # the quadrants are where they were: away from the edges, each is its flat colour (JPEG: +-4)
    for (y, x), color in zip([(750, 1000), (750, 3000), (2250, 1000), (2250, 3000)], _QUADRANTS):
        np.testing.assert_allclose(decoded.rgb[y, x], color, atol=4)
    np.testing.assert_array_equal(decode_image(jpeg_48mp), decoded.rgb)  # the array-only call agrees


def test_a_48_mp_jpeg_on_the_pillow_path_gives_the_same_pixels(jpeg_48mp: bytes) -> None:
    decoded = decode_with_reduction(jpeg_48mp)
    np.testing.assert_array_equal(_decode_with_pillow_only(jpeg_48mp), decoded.rgb)


@pytest.mark.parametrize(
    ("max_pixels", "scale"),
    [(167 * 501, 2), (167 * 501 - 1, 4), (84 * 251, 4)],  # 1001x333: 1/2 is 501x167, 1/4 is 251x84
    ids=["exactly-half", "one-below-half", "exactly-quarter"],
)
def test_the_largest_scale_within_the_budget_is_chosen(max_pixels: int, scale: int, fast_path: list[bool]) -> None:
    data = _jpeg(333, 1001, quality=90)
    rgb = _assert_fast_and_exact(data, fast_path, max_pixels=max_pixels, scale=scale)
    assert rgb.shape == (-(-333 // scale), -(-1001 // scale), 3)  # each side divided, rounded up


def test_the_budget_is_inclusive_at_full_size(fast_path: list[bool]) -> None:
    data = _jpeg(333, 1001, quality=90)
    decoded = decode_with_reduction(data, max_pixels=333 * 1001)
    assert decoded.reduction is None and decoded.rgb.shape == (333, 1001, 3) and fast_path == [True]


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize(("mode", "subsampling"), [("RGB", 0), ("RGB", 1), ("RGB", 2), ("L", -1)],
                         ids=["4:4:4", "4:2:2", "4:2:0", "grey"])
def test_reduced_baseline_jpegs_decode_fast_and_exactly(
    mode: str, subsampling: int, scale: int, fast_path: list[bool]
) -> None:
    height, width = 333, 1001
    max_pixels = {2: 90_000, 4: 22_000}[scale]  # 1/2 is 83,667 pixels, 1/4 is 21,084
    data = _jpeg(height, width, mode, quality=85, subsampling=subsampling)
    rgb = _assert_fast_and_exact(data, fast_path, max_pixels=max_pixels, scale=scale)
    assert rgb.shape == (-(-height // scale), -(-width // scale), 3)


@pytest.mark.parametrize(("mode", "subsampling"), [("RGB", 1), ("RGB", 2), ("L", -1)], ids=["4:2:2", "4:2:0", "grey"])
def test_reduced_progressive_jpegs_decode_fast_and_exactly(mode: str, subsampling: int, fast_path: list[bool]) -> None:
    # 1.39 times the budget: the coefficients (4, 3 or 2 bytes a pixel) fit in 6 bytes per budget pixel
    data = _jpeg(333, 1001, mode, quality=85, subsampling=subsampling, progressive=True)
    rgb = _assert_fast_and_exact(data, fast_path, max_pixels=240_000, scale=2)
    assert rgb.shape == (167, 501, 3)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_applies_after_the_reduction(orientation: int, fast_path: list[bool]) -> None:
    data = _jpeg(61, 40, orientation=orientation, quality=90)  # stored 40 wide, 61 tall
    rgb = _assert_fast_and_exact(data, fast_path, max_pixels=700, scale=2)  # 1/2 is 20x31 = 620 pixels
    reduction = decode_with_reduction(data, max_pixels=700).reduction
    turned = orientation in (5, 6, 7, 8)
    assert rgb.shape[:2] == ((20, 31) if turned else (31, 20))
    assert reduction == (Reduction(2, 31, 20, 61, 40, 700) if turned else Reduction(2, 20, 31, 40, 61, 700))
    assert probe_image(data, max_pixels=700) == ImageInfo("JPEG", *(61, 40) if turned else (40, 61), "RGB", reduction)


def test_a_large_cmyk_jpeg_is_reduced_on_the_pillow_path(fast_path: list[bool], imdecode_calls: list[int]) -> None:
    data = _save(Image.fromarray(_photo(120, 200)).convert("CMYK"), "JPEG", quality=90)
    decoded = decode_with_reduction(data, max_pixels=10_000)  # 1/2 is 6,000 pixels
    assert fast_path == [False] and imdecode_calls == []
    assert decoded.rgb.shape == (60, 100, 3) and decoded.reduction == Reduction(2, 100, 60, 200, 120, 10_000)
    np.testing.assert_array_equal(decoded.rgb, _pillow_reference(data, 2))


@pytest.mark.parametrize(
    "imdecode",
    [lambda buf, flags: None, _raise_cv2_error, lambda buf, flags: np.zeros((61, 40, 3), np.uint8)],
    ids=["none", "cv2-error", "full-size"],
)
def test_pillow_decides_a_reduced_jpeg_when_opencv_fails_or_surprises(
    imdecode: Callable[[np.ndarray, int], np.ndarray], fast_path: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _jpeg(61, 40, quality=90, orientation=6)
    monkeypatch.setattr(image_io.cv2, "imdecode", imdecode)
    rgb = decode_image(data, max_pixels=700)
    assert fast_path == [False]
    assert rgb.shape == (20, 31, 3)
    np.testing.assert_array_equal(rgb, _pillow_reference(data, 2))


def test_read_with_reduction_reads_a_large_photo(tmp_path: Path) -> None:
    path = tmp_path / "IMG_0001.JPG"
    path.write_bytes(_quadrant_jpeg(400, 300))
    decoded = read_with_reduction(path, max_pixels=40_000)
    assert decoded.rgb.shape == (150, 200, 3) and decoded.reduction == Reduction(2, 200, 150, 400, 300, 40_000)
    np.testing.assert_array_equal(read_image(path, max_pixels=40_000), decoded.rgb)
    assert read_with_reduction(path).reduction is None


# refusals: what stays refused above the budget, with a message that says what to do


@pytest.mark.parametrize(
    ("fmt", "params"),
    [("PNG", {}), ("WEBP", {"lossless": True}), ("BMP", {}), ("TIFF", {}), ("GIF", {})],
)
def test_other_formats_above_the_budget_are_refused_with_what_to_do(fmt: str, params: dict) -> None:
    data = _save(Image.new("RGB", (1000, 600), (10, 20, 30)), fmt, **params)
    expected = (
        f"The image is 1000×600 = 0.6 MP, above the 0.5 MP limit for {fmt} files (only JPEG photos are decoded "
        "at a reduced size): downscale it to at most 0.5 MP, or save it as a JPEG."
    )
    for function in (decode_with_reduction, probe_image):
        with pytest.raises(ImageDecodeError) as info:
            function(data, max_pixels=500_000)
        assert str(info.value) == expected
    with pytest.raises(ImageDecodeError, match=re.escape("to at most 599,999 pixels, or save it as a JPEG.")):
        decode_image(data, max_pixels=599_999)  # rounding would hide the difference: exact counts


def test_a_jpeg_too_large_even_at_quarter_scale_is_refused(fast_path: list[bool]) -> None:
    data = _quadrant_jpeg(400, 400)  # 1/4 is 100x100 = 10,000 pixels
    assert decode_with_reduction(data, max_pixels=10_000).reduction.scale == 4
    expected = (
        "The image is 400×400 = 0.2 MP, more than any camera photo: even at 1/4 scale it is above the "
        "0.01 MP limit; downscale it first."
    )
    fast_path.clear()
    for function in (decode_with_reduction, probe_image):
        with pytest.raises(ImageDecodeError) as info:
            function(data, max_pixels=9_999)
        assert str(info.value) == expected
    assert fast_path == []  # refused before any decoding


def _declaring(data: bytes, width: int, height: int) -> bytes:
    """``data`` (a baseline JPEG) with its frame header changed to declare width x height."""
    out = bytearray(data)
    sof = out.index(b"\xff\xc0")  # then: length, precision, height, width
    out[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(out)


def test_a_jpeg_declaring_more_pixels_than_its_bytes_can_hold_is_refused(
    fast_path: list[bool], imdecode_calls: list[int]
) -> None:
    # A real JPEG spends at least one bit per 8x8 block. This one declares 48 MP in 1 KB: libjpeg
    # would pad it with grey (OpenCV accepts that), so it must be refused before decoding.
    small = _save(Image.fromarray(_photo(16, 16)), "JPEG", quality=90)
    assert len(small) < 1_000
    bomb = _declaring(small, 8000, 6000)
    for function in (decode_with_reduction, probe_image):
        with pytest.raises(ImageDecodeError) as info:
            function(bomb)
        assert str(info.value) == (
            f"The file is truncated or corrupt: a JPEG of 8000×6000 pixels needs at least 94 KB, but the file "
            f"holds {-(-len(bomb) // 1000)} KB; re-download or re-export it."
        )
    assert fast_path == [] and imdecode_calls == []


def test_the_one_byte_per_512_pixels_floor_passes_the_smallest_real_jpegs() -> None:
    # The tightest real cases: flat grey with optimised Huffman tables, baseline (2 bits a
    # block) and progressive (1 bit a block in the DC scan, end-of-band runs after it).
    for mode, params in [("L", {"progressive": True}), ("L", {}), ("RGB", {"progressive": True})]:
        data = _save(Image.new(mode, (2048, 2048), 128), "JPEG", quality=50, optimize=True, **params)
        assert len(data) * 512 >= 2048 * 2048, (mode, params, len(data))
        assert decode_with_reduction(data, max_pixels=2048 * 2048 // 2).reduction.scale == 2


@pytest.mark.parametrize(
    ("subsampling", "max_pixels", "expected"),
    [
        (0, 300_000, "333,333 pixels, above the 300,000-pixel limit, and decoding it at any size holds all its DCT "
         "coefficients (2.03 MB, more than the 1.8 MB allowed): re-save it as a baseline JPEG, or downscale it to "
         "at most 300,000 pixels."),
        (2, 160_000, "0.3 MP, above the 0.2 MP limit, and decoding it at any size holds all its DCT coefficients "
         "(1.02 MB, more than the 960 KB allowed): re-save it as a baseline JPEG, or downscale it to at most 0.2 MP."),
    ],
    ids=["4:4:4", "4:2:0"],
)
def test_a_progressive_jpeg_whose_coefficients_exceed_the_budget_is_refused(
    subsampling: int, max_pixels: int, expected: str, fast_path: list[bool]
) -> None:
    # 1001x333: 126x42 luma blocks; its coefficients take 128 bytes a block: 2.03 MB at 4:4:4,
    # 1.02 MB at 4:2:0. The budget allows 6 bytes per budget pixel: 1.8 MB and 960 KB here.
    data = _jpeg(333, 1001, quality=85, subsampling=subsampling, progressive=True)
    for function in (decode_with_reduction, probe_image):
        with pytest.raises(ImageDecodeError) as info:
            function(data, max_pixels=max_pixels)
        assert str(info.value) == f"The image is a progressive JPEG of 1001×333 = {expected}"
    assert fast_path == []
    # the same picture as a baseline JPEG is decoded reduced: libjpeg never holds all its coefficients
    baseline = _jpeg(333, 1001, quality=85, subsampling=subsampling)
    assert decode_with_reduction(baseline, max_pixels=max_pixels).reduction is not None


def test_a_jpeg_whose_first_scan_leaves_out_a_component_counts_as_multi_scan() -> None:
    # Non-interleaved scans make libjpeg hold every coefficient, as progressive mode does.
    data = bytearray(_jpeg(333, 1001, quality=85, subsampling=0))
    sos = data.index(b"\xff\xda")
    assert data[sos + 4] == 3  # Ns: the three components, interleaved
    assert image_io._jpeg_first_scan_components(bytes(data)) == 3
    data[sos + 4] = 1  # the scan header now claims one component (its pixels no longer matter)
    assert image_io._jpeg_first_scan_components(bytes(data)) == 1
    with pytest.raises(ImageDecodeError, match=re.escape("The image is a multi-scan JPEG of 1001×333")):
        decode_with_reduction(bytes(data), max_pixels=300_000)


@pytest.mark.parametrize(
    ("data", "components"),
    [
        (b"\xff\xd8\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00", 1),
        (b"\xff\xd8\xff\xff\xfe\x00\x03x\xff\xda\x00\x0c\x03", 3),  # a fill byte, then a comment
        (b"\xff\xd8\xff\xd9", None),  # no scan at all
        (b"\xff\xd8junk\xff\xda\x00\x0c\x03", None),  # junk between segments: unknown, counted as multi-scan
        (b"\xff\xd8\xff\xfe\x00\x01\xff\xda\x00\x0c\x03", None),  # a length below 2
        (b"\xff\xd8\xff\xfe\x00\x40\xff\xda\x00\x0c\x03", None),  # a comment that runs past the end
    ],
)
def test_first_scan_components_reads_only_the_header(data: bytes, components: int | None) -> None:
    assert image_io._jpeg_first_scan_components(data) == components


def test_large_photo_decoding_stays_within_its_memory(tmp_path: Path, jpeg_48mp: bytes) -> None:
    """A generous sanity bound on the peak RSS of decoding the 48 MP JPEG, on both paths.

    Measured on the build machine (VmHWM after minus VmRSS before, in a fresh child): +71 MB on
    the OpenCV path, +115 MB on the Pillow path; a full-size decode costs +276 MB (OpenCV), so
    a decode that built the full 144 MB image first would fail the 170 MB bound. Not a benchmark.
    """
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc to measure the peak RSS")
    path = tmp_path / "48mp.jpg"
    path.write_bytes(jpeg_48mp)
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from core.io import images as image_io

        def status(key):
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith(key):
                    return int(line.split()[1]) * 1024

        if sys.argv[2] == "pillow":
            image_io._decode_plain_jpeg = lambda *args: None
        data = Path(sys.argv[1]).read_bytes()
        before = status("VmRSS:")
        decoded = image_io.decode_with_reduction(data)
        print(decoded.rgb.shape, decoded.reduction.scale, (status("VmHWM:") - before) / 2**20)
        """
    )
    for path_name in ("opencv", "pillow"):
        result = subprocess.run(
            [sys.executable, "-c", script, str(path), path_name],
            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, result.stderr
        shape, scale, peak_mb = result.stdout.rsplit(" ", 2)
        assert shape == "(3000, 4000, 3)" and scale == "2", result.stdout
        assert float(peak_mb) < 170, f"{path_name}: +{float(peak_mb):.0f} MB"


_FUZZ_REDUCED_JPEGS = [
    _jpeg(61, 40, quality=80, orientation=6),
    _jpeg(61, 40, "L", quality=80, progressive=True, orientation=8),
    _jpeg(61, 40, quality=80, subsampling=2, progressive=True),
    cv2.imencode(".jpg", _photo(64, 40), [cv2.IMWRITE_JPEG_RST_INTERVAL, 1])[1].tobytes(),
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(_FUZZ_REDUCED_JPEGS),
    edits=st.lists(
        st.tuples(st.integers(min_value=0), st.sampled_from([0x00, 0xFF, 0xD9, 0xDA, 0xC4, 0x12, 0x80])),
        min_size=1, max_size=6,
    ),
    cut=st.none() | st.integers(min_value=2),
)
def test_damaged_reduced_jpegs_give_what_pillow_gives(
    base: bytes, edits: list[tuple[int, int]], cut: int | None
) -> None:
    # As test_damaged_jpegs_give_what_pillow_gives, with a budget that forces 1/2 scale.
    data = bytearray(base)
    for position, value in edits:
        data[2 + position % (len(data) - 2)] = value
    if cut is not None:
        data = data[: cut % len(data)] + b"\xff\xd9"
    fast_kind, fast = _outcome(lambda d: decode_image(d, max_pixels=1_800), bytes(data))
    pillow_kind, pillow = _outcome(lambda d: _decode_with_pillow_only(d, max_pixels=1_800), bytes(data))
    assert fast_kind == pillow_kind, (fast, pillow)
    if fast_kind == "pixels":
        np.testing.assert_array_equal(fast, pillow)
        assert fast.shape[0] * fast.shape[1] <= 1_800
    else:
        assert fast == pillow
