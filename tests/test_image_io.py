"""Tests for core.image_io: the hostile corpus through decode_image, plus the edges around it."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

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
