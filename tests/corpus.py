"""A hostile-input corpus of image bytes, built in memory, with what decoding each must give.

Every path that takes an image (``core.io.images``, the CLI, the dashboard upload) can push
the same corpus through itself::

    for item in hostile_corpus():
        if item.expect_error:
            ...  # assert the user sees a message containing item.expect_error
        else:
            item.check(rgb)  # shape, dtype, orientation and known pixel values

Items with ``max_pixels`` set only hold under that pixel budget; paths that cannot pass
a budget should skip them. Nothing is written to disk: the bytes come from Pillow, numpy
and a few hand-built headers (PSD, EPS, HEIC, PNG/JPEG/GIF/TIFF/WebP with forged sizes,
TIFF with 16-bit RGB or 32-bit samples) that Pillow cannot or should not write.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

__all__ = ["CorpusItem", "bomb_items", "hostile_corpus"]

RGB = tuple[int, int, int]

RED: RGB = (255, 0, 0)
GREEN: RGB = (0, 255, 0)
BLUE: RGB = (0, 0, 255)
WHITE: RGB = (255, 255, 255)
BLACK: RGB = (0, 0, 0)

UNSUPPORTED = "Unsupported format"
CORRUPT = "truncated or corrupt"


@dataclass(frozen=True)
class CorpusItem:
    """One input and the outcome a user must see.

    Attributes:
        name: Short id, e.g. ``"jpeg-exif-orientation-6"``.
        data: The file content.
        expect_error: A fragment of the expected ``ImageDecodeError`` message, or
            ``None`` when the bytes must decode.
        shape: Expected ``(height, width)`` of the decoded RGB array.
        pixels: ``(row, col, (r, g, b))`` values the decoded array must hold.
        tolerance: Largest allowed per-channel difference for ``pixels`` (lossy codecs).
        max_pixels: The pixel budget this expectation holds under; ``None`` for the default.
    """

    name: str
    data: bytes
    expect_error: str | None = None
    shape: tuple[int, int] | None = None
    pixels: tuple[tuple[int, int, RGB], ...] = ()
    tolerance: int = 0
    max_pixels: int | None = None

    def check(self, rgb: np.ndarray) -> None:
        """Assert that a decoded array is what this item must decode to.

        Raises:
            AssertionError: Naming the item and the first mismatch.
        """
        assert self.expect_error is None, f"{self.name}: expected an error containing {self.expect_error!r}"
        assert isinstance(rgb, np.ndarray), f"{self.name}: got {type(rgb).__name__}, not an array"
        assert rgb.dtype == np.uint8, f"{self.name}: dtype {rgb.dtype}, expected uint8"
        assert rgb.ndim == 3 and rgb.shape[2] == 3, f"{self.name}: shape {rgb.shape}, expected HxWx3"
        assert rgb.flags.c_contiguous, f"{self.name}: array is not C-contiguous"
        if self.shape is not None:
            assert rgb.shape[:2] == self.shape, f"{self.name}: (h, w) = {rgb.shape[:2]}, expected {self.shape}"
        for row, col, expected in self.pixels:
            got = rgb[row, col].astype(int)
            diff = np.abs(got - np.array(expected)).max()
            assert diff <= self.tolerance, (
                f"{self.name}: pixel ({row}, {col}) is {got.tolist()}, expected {list(expected)} "
                f"within {self.tolerance}"
            )


def hostile_corpus() -> list[CorpusItem]:
    """Every corpus item: refusals first, then inputs that must decode."""
    return list(_build())


def bomb_items() -> list[CorpusItem]:
    """Small files that declare a huge size; decoding any of them would need gigabytes."""
    return list(_bombs())


# ---------------------------------------------------------------- helpers


def _save(im: Image.Image, fmt: str, **params: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def _noise(h: int, w: int, seed: int = 0) -> Image.Image:
    """Random RGB noise: compresses badly, so truncating the file cuts pixel data."""
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def _quadrants(h: int = 40, w: int = 60) -> np.ndarray:
    """HxWx3: red top-left, green top-right, blue bottom-left, white bottom-right."""
    arr = np.empty((h, w, 3), np.uint8)
    arr[: h // 2, : w // 2] = RED
    arr[: h // 2, w // 2 :] = GREEN
    arr[h // 2 :, : w // 2] = BLUE
    arr[h // 2 :, w // 2 :] = WHITE
    return arr


def _quadrant_pixels(h: int = 40, w: int = 60) -> tuple[tuple[int, int, RGB], ...]:
    """Centres of the quadrants of ``_quadrants(h, w)`` as seen by a viewer."""
    top, bottom, left, right = h // 4, 3 * h // 4, w // 4, 3 * w // 4
    return ((top, left, RED), (top, right, GREEN), (bottom, left, BLUE), (bottom, right, WHITE))


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header_only(width: int, height: int) -> bytes:
    """An RGB PNG whose IHDR declares ``width``×``height`` followed by a tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _tiff(arr: np.ndarray, photometric: int, sample_format: int = 1, byteorder: str = "<") -> bytes:
    """An uncompressed single-strip TIFF of ``arr`` (HxW or HxWxC), written field by field.

    Pillow cannot write 16-bit RGB or 32-bit integer TIFFs, so this does.
    """
    height, width = arr.shape[:2]
    samples = 1 if arr.ndim == 2 else arr.shape[2]
    bits = arr.dtype.itemsize * 8
    pixels = arr.astype(arr.dtype.newbyteorder(byteorder)).tobytes()
    short, long_ = 3, 4
    n_entries = 10
    extra_offset = 8 + 2 + 12 * n_entries + 4  # header, entry count, entries, next-IFD offset
    bits_field = struct.pack(f"{byteorder}{samples}H", *[bits] * samples)
    format_field = struct.pack(f"{byteorder}{samples}H", *[sample_format] * samples)
    extra = b""

    def array_field(tag: int, payload: bytes) -> bytes:
        nonlocal extra
        if len(payload) <= 4:
            return struct.pack(f"{byteorder}HHI", tag, short, samples) + payload.ljust(4, b"\0")
        offset = extra_offset + len(extra)
        extra += payload
        return struct.pack(f"{byteorder}HHII", tag, short, samples, offset)

    def value(tag: int, kind: int, val: int) -> bytes:
        if kind == short:
            return struct.pack(f"{byteorder}HHIH2x", tag, kind, 1, val)
        return struct.pack(f"{byteorder}HHII", tag, kind, 1, val)

    bits_entry = array_field(258, bits_field)
    format_entry = array_field(339, format_field)
    pixel_offset = extra_offset + len(extra)
    entries = [
        value(256, long_, width),
        value(257, long_, height),
        bits_entry,
        value(259, short, 1),  # no compression
        value(262, short, photometric),
        value(273, long_, pixel_offset),
        value(277, short, samples),
        value(278, long_, height),  # one strip
        value(279, long_, len(pixels)),
        format_entry,
    ]
    magic = b"II*\x00" if byteorder == "<" else b"MM\x00*"
    ifd = struct.pack(f"{byteorder}H", n_entries) + b"".join(entries) + struct.pack(f"{byteorder}I", 0)
    return magic + struct.pack(f"{byteorder}I", 8) + ifd + extra + pixels


def _psd(width: int, height: int) -> bytes:
    """A minimal valid 8-bit RGB Photoshop file, solid red; Pillow can open it."""
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)  # version 1, 3 channels, RGB
    empty_sections = struct.pack(">III", 0, 0, 0)  # colour mode data, resources, layers
    planes = bytes([255]) * (width * height) + bytes(width * height) * 2
    return header + empty_sections + struct.pack(">H", 0) + planes  # 0 = raw image data


def _with_exif_orientation(im: Image.Image, fmt: str, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _save(im, fmt, exif=exif.tobytes(), **({"quality": 95} if fmt == "JPEG" else {}))


# How a viewer turns the stored rows into the displayed ones, per the EXIF specification,
# written independently of Pillow: np.rot90(k=-1) rotates clockwise.
_DISPLAYED_FROM_STORED = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],  # mirrored horizontally
    3: lambda a: np.rot90(a, 2),
    4: lambda a: a[::-1],  # mirrored vertically
    5: lambda a: a.transpose(1, 0, 2),  # row 0 is the visual left, column 0 the visual top
    6: lambda a: np.rot90(a, -1),  # rotate 90° clockwise to view
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),  # row 0 is the visual right, column 0 the bottom
    8: lambda a: np.rot90(a, 1),  # rotate 90° counter-clockwise to view
}
_STORED_FROM_DISPLAYED = {
    **{k: f for k, f in _DISPLAYED_FROM_STORED.items() if k not in (6, 8)},  # involutions
    6: lambda a: np.rot90(a, 1),
    8: lambda a: np.rot90(a, -1),
}


# ---------------------------------------------------------------- the corpus


def _bombs() -> list[CorpusItem]:
    items = [
        CorpusItem("png-declares-100000x100000", _png_header_only(100_000, 100_000), "100000×100000 = 10000 MP"),
        CorpusItem("png-declares-65535x65535", _png_header_only(65_535, 65_535), "above the 40 MP limit"),
    ]

    # WebP: libwebp allocates the whole canvas when its decoder is created, before any
    # size check after Image.open could run.
    lossless = bytearray(_save(Image.new("RGB", (8, 8), RED), "WEBP", lossless=True))
    assert lossless[12:16] == b"VP8L"
    keep = int.from_bytes(lossless[21:25], "little") & ~((1 << 28) - 1)  # alpha and version bits
    lossless[21:25] = (keep | (10_000 - 1) | ((10_000 - 1) << 14)).to_bytes(4, "little")
    items.append(CorpusItem("webp-declares-10000x10000", bytes(lossless), "10000×10000 = 100 MP"))

    jpeg = bytearray(_save(Image.new("RGB", (8, 8), RED), "JPEG"))
    sof = jpeg.index(b"\xff\xc0")  # baseline frame header: length, precision, height, width
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", 65_000, 65_000)
    items.append(CorpusItem("jpeg-declares-65000x65000", bytes(jpeg), "65000×65000"))

    gif = bytearray(_save(Image.new("P", (8, 8)), "GIF"))
    gif[6:10] = struct.pack("<HH", 65_535, 65_535)  # logical screen size
    items.append(CorpusItem("gif-declares-65535x65535", bytes(gif), "65535×65535"))

    tiff = _tiff(np.zeros((8, 8), np.uint8), photometric=1)
    width_entry = tiff.index(struct.pack("<HHI", 256, 4, 1))
    tiff = tiff[: width_entry + 8] + struct.pack("<I", 100_000) + tiff[width_entry + 12 :]
    height_entry = tiff.index(struct.pack("<HHI", 257, 4, 1))
    tiff = tiff[: height_entry + 8] + struct.pack("<I", 100_000) + tiff[height_entry + 12 :]
    items.append(CorpusItem("tiff-declares-100000x100000", tiff, "100000×100000"))

    bmp = bytearray(_save(Image.new("RGB", (8, 8), RED), "BMP"))
    bmp[18:26] = struct.pack("<ii", 30_000, -30_000)  # negative height: top-down rows
    items.append(CorpusItem("bmp-declares-30000x30000", bytes(bmp), "30000×30000 = 900 MP"))
    return items


def _refusals() -> list[CorpusItem]:
    jpeg = _save(_noise(64, 64), "JPEG", quality=90)
    png = _save(_noise(64, 64), "PNG")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
    svg_with_prolog = b"\xef\xbb\xbf\n  <?xml version='1.0'?>\n<!-- drawn by hand -->\n" + svg
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    eps = (
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n%%EndComments\n"
        b"newpath 0 0 moveto 10 10 lineto stroke\nshowpage\n%%EOF\n"
    )
    # DOS EPS: binary header, then the PostScript section it points to.
    dos_eps = b"\xc5\xd0\xd3\xc6" + struct.pack("<IIIIIIH", 30, len(eps), 0, 0, 0, 0, 0xFFFF) + eps
    heic = struct.pack(">I", 24) + b"ftypheic" + struct.pack(">I", 0) + b"mif1heic" + bytes(64)
    heif = struct.pack(">I", 20) + b"ftypmif1" + struct.pack(">I", 0) + b"mif1" + bytes(64)
    zero_width_png = bytearray(_png_header_only(1, 5))
    zero_width_png[16:20] = b"\0\0\0\0"
    zero_width_png[29:33] = struct.pack(">I", zlib.crc32(bytes(zero_width_png[12:29])))
    return [
        CorpusItem("empty", b"", "empty (0 bytes)"),
        CorpusItem("jpeg-truncated-half", jpeg[: len(jpeg) // 2], CORRUPT),
        CorpusItem("jpeg-truncated-header", jpeg[:40], CORRUPT),
        CorpusItem("png-truncated-half", png[: len(png) // 2], CORRUPT),
        CorpusItem("png-truncated-in-ihdr", png[:20], CORRUPT),
        CorpusItem("png-corrupt-idat-crc", png[:60] + bytes([png[60] ^ 0xFF]) + png[61:], CORRUPT),
        CorpusItem("webp-truncated", (w := _save(_noise(64, 64), "WEBP"))[: len(w) // 2], CORRUPT),
        CorpusItem("gif-truncated", (g := _save(_noise(64, 64), "GIF"))[: len(g) // 2], CORRUPT),
        CorpusItem("bmp-truncated", (b := _save(_noise(64, 64), "BMP"))[: len(b) // 2], CORRUPT),
        CorpusItem("tiff-truncated", (t := _save(_noise(64, 64), "TIFF"))[: len(t) // 2], CORRUPT),
        CorpusItem("png-zero-width", bytes(zero_width_png), "0×5 pixels"),
        CorpusItem("svg-handed-in-as-png", svg, f"{UNSUPPORTED} SVG"),
        CorpusItem("svg-with-bom-and-xml-prolog", svg_with_prolog, f"{UNSUPPORTED} SVG"),
        CorpusItem("pdf", pdf, f"{UNSUPPORTED} PDF"),
        CorpusItem("psd", _psd(4, 3), f"{UNSUPPORTED} PSD"),
        CorpusItem("eps", eps, f"{UNSUPPORTED} EPS"),
        CorpusItem("eps-dos-binary-header", dos_eps, f"{UNSUPPORTED} EPS"),
        CorpusItem("heic-ftyp", heic, f"{UNSUPPORTED} HEIC"),
        CorpusItem("heif-ftyp-mif1", heif, f"{UNSUPPORTED} HEIF"),
        CorpusItem("avif", _save(Image.new("RGB", (8, 8), RED), "AVIF"), f"{UNSUPPORTED} AVIF"),
        CorpusItem("ico", _save(Image.new("RGB", (16, 16), RED), "ICO"), f"{UNSUPPORTED} ICO"),
        CorpusItem("jpeg2000", _save(Image.new("RGB", (8, 8), RED), "JPEG2000"), f"{UNSUPPORTED} JPEG 2000"),
        CorpusItem("ppm", _save(Image.new("RGB", (8, 8), RED), "PPM"), f"{UNSUPPORTED} PPM"),
        CorpusItem("html", b"<!DOCTYPE html><html><body><img src=x.png></body></html>", f"{UNSUPPORTED} HTML"),
        CorpusItem("plain-text", b"hello, this is not an image\n", UNSUPPORTED),
        CorpusItem("random-bytes", np.random.default_rng(1).bytes(4096), UNSUPPORTED),
        CorpusItem("bmp-magic-then-garbage", b"BM" + bytes(range(60)), CORRUPT),
        CorpusItem(
            "png-2000x2000-over-1mp-budget",
            _save(Image.new("RGB", (2000, 2000), RED), "PNG"),
            "2000×2000 = 4 MP, above the 1 MP limit",
            max_pixels=1_000_000,
        ),
    ]


def _decodable() -> list[CorpusItem]:
    items: list[CorpusItem] = []
    quad = _quadrants()
    quad_pixels = _quadrant_pixels()

    # Round trips of the six supported formats.
    items += [
        CorpusItem("png-rgb", _save(Image.fromarray(quad), "PNG"), shape=(40, 60), pixels=quad_pixels),
        CorpusItem(
            "jpeg-rgb", _save(Image.fromarray(quad), "JPEG", quality=95), shape=(40, 60), pixels=quad_pixels,
            tolerance=8,
        ),
        CorpusItem(
            "webp-lossless", _save(Image.fromarray(quad), "WEBP", lossless=True), shape=(40, 60), pixels=quad_pixels
        ),
        CorpusItem(
            "webp-lossy", _save(Image.fromarray(quad), "WEBP", quality=95), shape=(40, 60), pixels=quad_pixels,
            tolerance=12,
        ),
        CorpusItem("bmp-rgb", _save(Image.fromarray(quad), "BMP"), shape=(40, 60), pixels=quad_pixels),
        CorpusItem("tiff-rgb", _save(Image.fromarray(quad), "TIFF"), shape=(40, 60), pixels=quad_pixels),
        CorpusItem(
            "tiff-rgb-deflate", _save(Image.fromarray(quad), "TIFF", compression="tiff_adobe_deflate"),
            shape=(40, 60), pixels=quad_pixels,
        ),
        CorpusItem("gif-rgb", _save(Image.fromarray(quad), "GIF"), shape=(40, 60), pixels=quad_pixels),
    ]

    # Tiny, thin and flat images.
    items += [
        CorpusItem("png-1x1", _save(Image.new("RGB", (1, 1), (10, 20, 30)), "PNG"), shape=(1, 1),
                   pixels=((0, 0, (10, 20, 30)),)),
        CorpusItem("jpeg-1x1", _save(Image.new("RGB", (1, 1), (200, 100, 50)), "JPEG", quality=100), shape=(1, 1),
                   pixels=((0, 0, (200, 100, 50)),), tolerance=4),
        CorpusItem("png-1x5000", _save(Image.new("RGB", (5000, 1), BLUE), "PNG"), shape=(1, 5000),
                   pixels=((0, 0, BLUE), (0, 4999, BLUE))),
        CorpusItem("png-5000x1", _save(Image.new("RGB", (1, 5000), GREEN), "PNG"), shape=(5000, 1),
                   pixels=((0, 0, GREEN), (4999, 0, GREEN))),
        CorpusItem("jpeg-constant-colour", _save(Image.new("RGB", (64, 48), (12, 200, 77)), "JPEG", quality=95),
                   shape=(48, 64), pixels=((0, 0, (12, 200, 77)), (47, 63, (12, 200, 77))), tolerance=3),
    ]

    # Pixel modes.
    gray16 = np.array([[0, 257, 32768, 65535]], np.uint16)  # -> 0, 1, 128, 255: scaled, not clipped
    gray16_pixels = ((0, 0, BLACK), (0, 1, (1, 1, 1)), (0, 2, (128, 128, 128)), (0, 3, WHITE))
    rgb16 = np.zeros((2, 3, 3), np.uint16)
    rgb16[0, 0] = (65535, 32768, 0)
    rgb16[1, 2] = (257, 0, 65535)

    palette = Image.new("P", (4, 2), 0)
    palette.putpalette([*RED, *BLUE] + [0] * 762)
    palette.putpixel((2, 0), 1)
    palette_with_hole = palette.copy()
    palette_with_hole.info["transparency"] = 0  # index 0 (red) is transparent

    rgba = Image.new("RGBA", (3, 1))
    for x, alpha in enumerate((0, 255, 128)):
        rgba.putpixel((x, 0), (*RED, alpha))
    la = Image.new("LA", (3, 1))
    for x, alpha in enumerate((0, 255, 128)):
        la.putpixel((x, 0), (0, alpha))
    gif_transparent = Image.new("P", (4, 2), 0)
    gif_transparent.putpalette([*GREEN, *BLUE] + [0] * 762)
    gif_transparent.putpixel((3, 1), 1)

    lab = Image.frombytes("LAB", (2, 1), bytes([128, 0, 0, 255, 0, 0]))  # mid grey, white

    items += [
        CorpusItem("png-mode-1", _save(Image.new("1", (3, 2), 1), "PNG"), shape=(2, 3), pixels=((0, 0, WHITE),)),
        CorpusItem("png-mode-L", _save(Image.new("L", (3, 2), 77), "PNG"), shape=(2, 3),
                   pixels=((1, 2, (77, 77, 77)),)),
        CorpusItem("png-16bit-gray", _save(Image.fromarray(gray16), "PNG"), shape=(1, 4), pixels=gray16_pixels),
        CorpusItem("tiff-16bit-gray-little-endian", _tiff(gray16, photometric=1), shape=(1, 4), pixels=gray16_pixels),
        CorpusItem("tiff-16bit-gray-big-endian", _tiff(gray16, photometric=1, byteorder=">"), shape=(1, 4),
                   pixels=gray16_pixels),
        CorpusItem("tiff-16bit-rgb", _tiff(rgb16, photometric=2), shape=(2, 3),
                   pixels=((0, 0, (255, 128, 0)), (1, 2, (1, 0, 255)), (0, 1, BLACK))),
        CorpusItem("tiff-32bit-signed-int-minmax",
                   _tiff(np.array([[-100, 0, 100_000]], np.int32), photometric=1, sample_format=2), shape=(1, 3),
                   pixels=((0, 0, BLACK), (0, 2, WHITE))),
        CorpusItem("tiff-float-0-1",
                   _save(Image.fromarray(np.array([[0.0, 0.5, 1.0, np.nan]], np.float32)), "TIFF"), shape=(1, 4),
                   pixels=((0, 0, BLACK), (0, 1, (128, 128, 128)), (0, 2, WHITE), (0, 3, BLACK))),
        CorpusItem("tiff-float-minmax",
                   _save(Image.fromarray(np.array([[-1.0, 0.0, 3.0, np.inf]], np.float32)), "TIFF"), shape=(1, 4),
                   pixels=((0, 0, BLACK), (0, 1, (64, 64, 64)), (0, 2, WHITE), (0, 3, BLACK))),
        CorpusItem("png-palette", _save(palette, "PNG"), shape=(2, 4), pixels=((0, 0, RED), (0, 2, BLUE))),
        CorpusItem("png-palette-transparency", _save(palette_with_hole, "PNG", transparency=0), shape=(2, 4),
                   pixels=((0, 0, WHITE), (0, 2, BLUE))),
        CorpusItem("png-rgba", _save(rgba, "PNG"), shape=(1, 3),
                   pixels=((0, 0, WHITE), (0, 1, RED), (0, 2, (255, 127, 127)))),
        CorpusItem("png-la", _save(la, "PNG"), shape=(1, 3),
                   pixels=((0, 0, WHITE), (0, 1, BLACK), (0, 2, (127, 127, 127)))),
        CorpusItem("png-rgb-trns", _save(Image.new("RGB", (2, 2), GREEN), "PNG", transparency=GREEN), shape=(2, 2),
                   pixels=((0, 0, WHITE),)),
        CorpusItem("webp-rgba", _save(rgba, "WEBP", lossless=True, exact=True), shape=(1, 3),
                   pixels=((0, 0, WHITE), (0, 1, RED), (0, 2, (255, 127, 127)))),
        CorpusItem("tiff-rgba", _save(rgba, "TIFF"), shape=(1, 3),
                   pixels=((0, 0, WHITE), (0, 1, RED), (0, 2, (255, 127, 127)))),
        CorpusItem("gif-transparency", _save(gif_transparent, "GIF", transparency=0), shape=(2, 4),
                   pixels=((0, 0, WHITE), (1, 3, BLUE))),
        CorpusItem("jpeg-cmyk-cyan", _save(Image.new("CMYK", (16, 16), (255, 0, 0, 0)), "JPEG", quality=95),
                   shape=(16, 16), pixels=((8, 8, (0, 255, 255)),), tolerance=3),
        CorpusItem("tiff-cmyk-magenta", _save(Image.new("CMYK", (4, 4), (0, 255, 0, 0)), "TIFF"), shape=(4, 4),
                   pixels=((2, 2, (255, 0, 255)),)),
        CorpusItem("tiff-ycbcr-red", _save(Image.new("RGB", (4, 4), RED).convert("YCbCr"), "TIFF"), shape=(4, 4),
                   pixels=((2, 2, RED),), tolerance=3),
        CorpusItem("tiff-lab", _save(lab, "TIFF"), shape=(1, 2), pixels=((0, 0, (119, 119, 119)), (0, 1, WHITE)),
                   tolerance=2),
    ]

    # Animations and multi-image files: the first frame.
    frames = [Image.new("RGB", (6, 4), color) for color in (RED, GREEN, BLUE)]
    items += [
        CorpusItem("gif-animated-3-frames", _save(frames[0], "GIF", save_all=True, append_images=frames[1:]),
                   shape=(4, 6), pixels=((0, 0, RED), (3, 5, RED))),
        CorpusItem("png-animated-3-frames", _save(frames[0], "PNG", save_all=True, append_images=frames[1:]),
                   shape=(4, 6), pixels=((0, 0, RED),)),
        CorpusItem("webp-animated-3-frames",
                   _save(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True),
                   shape=(4, 6), pixels=((0, 0, RED),)),
        CorpusItem("tiff-3-pages", _save(frames[0], "TIFF", save_all=True, append_images=frames[1:]), shape=(4, 6),
                   pixels=((0, 0, RED),)),
        CorpusItem("mpo-2-images", _save(frames[0], "MPO", save_all=True, append_images=frames[2:], quality=95),
                   shape=(4, 6), pixels=((0, 0, RED),), tolerance=8),
    ]

    # EXIF orientation: store the image so that a viewer shows the quadrants upright.
    for orientation in range(1, 9):
        stored = np.ascontiguousarray(_STORED_FROM_DISPLAYED[orientation](quad))
        assert np.array_equal(_DISPLAYED_FROM_STORED[orientation](stored), quad)
        items.append(CorpusItem(
            f"jpeg-exif-orientation-{orientation}",
            _with_exif_orientation(Image.fromarray(stored), "JPEG", orientation),
            shape=(40, 60), pixels=quad_pixels, tolerance=8,
        ))
    for fmt, orientation in (("PNG", 6), ("WEBP", 8), ("TIFF", 3)):
        stored = np.ascontiguousarray(_STORED_FROM_DISPLAYED[orientation](quad))
        params = {"lossless": True} if fmt == "WEBP" else {}
        exif = Image.Exif()
        exif[0x0112] = orientation
        items.append(CorpusItem(
            f"{fmt.lower()}-exif-orientation-{orientation}",
            _save(Image.fromarray(stored), fmt, exif=exif.tobytes(), **params), shape=(40, 60), pixels=quad_pixels,
        ))
    return items


@functools.cache
def _build() -> tuple[CorpusItem, ...]:
    return (*_bombs(), *_refusals(), *_decodable())
