"""Decode untrusted image bytes into RGB arrays: the one gate every image passes through.

The dashboard upload, the camera, the bundled samples and the CLI all call
:func:`decode_image` (or :func:`read_image` for a path). The gate:

* names the format from the content, never from a file extension, and accepts only
  JPEG, PNG, WebP, BMP, TIFF and GIF (first frame). SVG, PDF, PSD, EPS, HEIC/HEIF, AVIF,
  ICO and anything else are refused by name, even the ones Pillow could open;
* checks the header size against a pixel budget before any pixel is decoded. A JPEG above
  it is decoded reduced (see "Large photos" below); any other format above it is refused;
* refuses empty, truncated and corrupt files instead of returning partly grey images;
* applies the EXIF orientation, so the array is what a photo viewer shows;
* converts every pixel mode to RGB uint8: transparency is composited on white, 16-bit
  samples are scaled (not clipped) and float samples are normalised.

Every refusal is an :class:`ImageDecodeError` whose message is one sentence meant to be
shown to the user as-is. Nothing here changes Pillow's or OpenCV's global settings.

A JPEG takes a fast path when it is plain: Pillow's header says RGB or greyscale (not
CMYK/YCCK), its frame is baseline, extended or progressive Huffman DCT, and walking its
markers reaches the end-of-image marker inside the data (a truncated file never does, so it
still reaches Pillow and is refused). OpenCV then decodes the pixels, about twice as fast
as Pillow: both run libjpeg-turbo with the same integer IDCT and upsampling, so the pixels
are the same, and the EXIF orientation is the one Pillow reads, applied with exact flips and
transposes. Anything else, including every file OpenCV fails on, goes through Pillow as before.

Large photos: phones shoot 48-50 MP by default and some 108 or 200 MP, above the 40 MP
budget. A JPEG above the budget is decoded at 1/2 or 1/4 scale, the largest of the two that
fits, by libjpeg's DCT scaling (OpenCV's ``IMREAD_REDUCED_*`` on the fast path, Pillow's
``draft`` otherwise; the two give the same pixels). The reduced image never exists at full
size: a baseline JPEG's decode costs about what the reduced image costs. The result says so
(:class:`Reduction`). It is refused instead when:

* it would still be above the budget at 1/4 scale (over 16 times the budget, 640 MP at the
  default): no camera makes such photos, and a bomb declares such sizes;
* the file is too short to hold the size it declares: every 8x8 block costs at least one bit,
  so a real JPEG has at least one byte per 512 pixels;
* it is progressive or has several scans, and its DCT coefficients, which libjpeg keeps for
  the whole image at full resolution whatever the scale, need more memory than those of any
  JPEG accepted at full size (6 bytes per pixel of the budget: a 4:4:4 JPEG at the budget).
  4:2:0 progressive photos up to about 80 MP pass.

PNG, WebP, BMP, TIFF and GIF above the budget are refused with a message that says so: their
decoders can only produce the full image, so a reduced decode would cost the memory the budget
exists to bound.
"""

from __future__ import annotations

import io
import os
import stat
import struct
from dataclasses import dataclass
from typing import IO, Callable

import cv2
import numpy as np
from PIL import (
    BmpImagePlugin,
    GifImagePlugin,
    Image,
    ImageFile,
    ImageOps,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    WebPImagePlugin,
)

from core.checks import check_int

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "SUPPORTED_FORMATS",
    "DecodedImage",
    "ImageDecodeError",
    "ImageInfo",
    "Reduction",
    "decode_image",
    "decode_with_reduction",
    "pil_to_rgb",
    "probe_image",
    "read_image",
    "read_with_reduction",
]

DEFAULT_MAX_PIXELS = 40_000_000
"""Largest decoded width × height; a 40 MP RGB image is 120 MB once decoded. JPEGs above it
are decoded reduced (see the module docstring)."""

SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")
"""Formats :func:`decode_image` accepts, as named in :attr:`ImageInfo.format`."""

_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")  # composited on white by decoding

_WHAT_TO_UPLOAD = "upload a JPEG, PNG, WebP, BMP, TIFF or GIF image"

# Only these Pillow parsers ever see the bytes: the format is sniffed first and the
# matching plugin is constructed directly, so no other plugin (PSD, EPS, ...) can claim
# the file. Constructing the plugin class also keeps Image.open's decompression-bomb
# warning out of the way: the pixel budget below is checked here, with the real size.
_OPENERS: dict[str, Callable[[IO[bytes]], ImageFile.ImageFile]] = {
    "JPEG": JpegImagePlugin.JpegImageFile,  # also reads the first image of an MPO
    "PNG": PngImagePlugin.PngImageFile,  # the default image of an APNG
    "WEBP": WebPImagePlugin.WebPImageFile,
    "BMP": BmpImagePlugin.BmpImageFile,
    "TIFF": TiffImagePlugin.TiffImageFile,  # the first page
    "GIF": GifImagePlugin.GifImageFile,  # the first frame
}

# What Pillow raises on bad data while parsing a header or decoding pixels.
_DECODE_ERRORS = (
    OSError,  # includes "image file is truncated" and UnidentifiedImageError
    SyntaxError,  # Pillow's "not a valid ... file"
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    ZeroDivisionError,
    OverflowError,
    AttributeError,  # Pillow's EXIF rewrite on a tag of the wrong type ('IFDRational' has no 'encode')
)

_BMP_HEADER_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})

# Recognisable formats that are refused; checked after the supported ones.
_REFUSED_MAGIC = (
    (b"8BPS", "PSD"),
    (b"%PDF", "PDF"),
    (b"%!PS", "EPS"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),  # DOS EPS binary header
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\x00\x00\x02\x00", "CUR"),
    (b"qoif", "QOI"),
    (b"icns", "ICNS"),
    (b"DDS ", "DDS"),
    (b"gimp xcf", "XCF"),
)

_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset({b"mif1", b"msf1"})

_EXIF_ORIENTATION = 0x0112

# What ImageOps.exif_transpose does for each EXIF orientation, as OpenCV's exact flips and
# transposes (an HxWx3 uint8 array in, a new C-contiguous one out). A numpy view copied with
# np.ascontiguousarray gives the same pixels 5 to 13 times slower (measured at 2 and 12 MP).
_ORIENT = {
    2: lambda a: cv2.flip(a, 1),  # FLIP_LEFT_RIGHT
    3: lambda a: cv2.rotate(a, cv2.ROTATE_180),  # ROTATE_180
    4: lambda a: cv2.flip(a, 0),  # FLIP_TOP_BOTTOM
    5: cv2.transpose,  # TRANSPOSE
    6: lambda a: cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE),  # ROTATE_270
    7: lambda a: cv2.rotate(cv2.transpose(a), cv2.ROTATE_180),  # TRANSVERSE
    8: lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE),  # ROTATE_90
}

# Older OpenCV builds lack IMREAD_COLOR_RGB; with one of those the fast path is off.
_IMREAD_FLAGS = getattr(cv2, "IMREAD_COLOR_RGB", None)
if _IMREAD_FLAGS is not None:
    _IMREAD_FLAGS |= cv2.IMREAD_IGNORE_ORIENTATION  # the orientation is Pillow's, applied by _ORIENT

# Markers the JPEG fast path walks over by their length field: SOF0-2 (Huffman DCT frames),
# DHT, SOS, DQT, DRI, APPn and COM. A marker outside this set (arithmetic coding, lossless
# or hierarchical frames, DNL, a second SOI, reserved codes) sends the file to Pillow.
_JPEG_SEGMENTS = frozenset({0xC0, 0xC1, 0xC2, 0xC4, 0xDA, 0xDB, 0xDD, *range(0xE0, 0xF0), 0xFE})
_JPEG_EOI = 0xD9
_JPEG_SOS = 0xDA

# JPEG DCT scales tried above the pixel budget, the smallest reduction first. 1/8 is left out:
# a photo that needs it is over 16 times the budget (640 MP at the default), larger than any
# camera makes, and decoding that many blocks takes tens of seconds.
_REDUCTIONS = (2, 4)
# OpenCV's scale bits for imdecode. Only the bit: IMREAD_REDUCED_COLOR_n also sets IMREAD_COLOR
# (BGR), which OpenCV refuses together with IMREAD_COLOR_RGB; the colour comes from that flag.
_IMREAD_SCALE = {1: 0, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4}
# Every 8x8 block of a JPEG costs at least one bit (a Huffman code is never shorter), so a
# complete file holds at least one byte per 512 pixels; a shorter one declares a size it cannot hold.
_JPEG_MAX_PIXELS_PER_BYTE = 512
# A progressive or multi-scan JPEG keeps 2 bytes per DCT coefficient, 64 per 8x8 block of each
# component, for the whole image at full size. Above the budget it may use as much as a 4:4:4
# JPEG of exactly the budget (3 components x 2 bytes per pixel), which is accepted at full size.
_COEFFICIENT_BYTES_PER_BUDGET_PIXEL = 6


class ImageDecodeError(ValueError):
    """The bytes are not an image this app can use; the message is meant for the user."""


@dataclass(frozen=True)
class Reduction:
    """How a JPEG above the pixel budget was decoded smaller; sizes as a photo viewer shows them.

    Attributes:
        scale: The DCT scale's denominator: 2 means 1/2 scale (each side halved, rounded up).
        width: Decoded width in pixels.
        height: Decoded height in pixels.
        full_width: Width the file stores.
        full_height: Height the file stores.
        max_pixels: The pixel budget the full size is above.

    Example:
        >>> str(Reduction(2, 4000, 3000, 8000, 6000, 40_000_000))
        'decoded at 1/2 scale: 4000×3000 from 8000×6000 (48 MP, above the 40 MP limit for full resolution)'
    """

    scale: int
    width: int
    height: int
    full_width: int
    full_height: int
    max_pixels: int

    def __str__(self) -> str:
        size, limit = _size_and_limit(self.full_width, self.full_height, self.max_pixels)
        return (
            f"decoded at 1/{self.scale} scale: {self.width}×{self.height} from {self.full_width}×{self.full_height} "
            f"({size}, above the {limit} limit for full resolution)"
        )


@dataclass(frozen=True, eq=False)
class DecodedImage:
    """A decoded image and, when it was above the pixel budget, how it was reduced.

    Attributes:
        rgb: HxWx3 uint8 RGB, C-contiguous and writeable, as a photo viewer shows it.
        reduction: None when ``rgb`` has the file's full size.
    """

    rgb: np.ndarray
    reduction: Reduction | None


@dataclass(frozen=True)
class ImageInfo:
    """What an image header says, oriented as a photo viewer would show the image.

    Attributes:
        format: One of :data:`SUPPORTED_FORMATS`.
        width: Width in pixels after the EXIF orientation is applied.
        height: Height in pixels after the EXIF orientation is applied.
        mode: Pillow's pixel mode as stored, e.g. ``"RGB"``, ``"CMYK"`` or ``"I;16"``.
        reduction: How :func:`decode_with_reduction` will shrink it, or None at full size.
        transparent: It has an alpha channel or a transparent colour, which decoding
            composites on white.
    """

    format: str
    width: int
    height: int
    mode: str
    reduction: Reduction | None = None
    transparent: bool = False

    def __str__(self) -> str:
        return f"{self.width}×{self.height} {self.format}"

    @property
    def conversions(self) -> list[str]:
        """What decoding changes in this image, in words for its user (empty when nothing).

        Example:
            >>> ImageInfo("PNG", 20, 20, "RGBA", transparent=True).conversions
            ['its transparent pixels were composited on white']
        """
        notes = [f"{self.reduction}, and the depth map and the downloads have that size"] if self.reduction else []
        if self.transparent:
            notes.append("its transparent pixels were composited on white")
        if self.mode.startswith("I") or self.mode == "F":
            notes.append(f"its {'16-bit' if '16' in self.mode else 'high-precision'} gray levels were stretched to 8 bits")
        return notes


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode image bytes into an RGB array as a photo viewer would show it.

    The array of :func:`decode_with_reduction`: a JPEG above ``max_pixels`` comes back
    reduced. Call that function instead to tell the user so.

    Args:
        data: The whole file content (``bytes``, ``bytearray`` or ``memoryview``).
        max_pixels: Largest decoded ``width * height``. Pillow's own
            ``Image.MAX_IMAGE_PIXELS`` caps it too, if that is lower.

    Returns:
        An HxWx3 uint8 RGB array, C-contiguous and writeable.

    Raises:
        ImageDecodeError: The bytes are empty, truncated, corrupt, too large or not a
            supported format. The message says which, and what to do.
        TypeError: ``data`` is not bytes-like, or ``max_pixels`` is not an int.
        ValueError: ``max_pixels`` is not positive.

    Example:
        >>> import io
        >>> from PIL import Image
        >>> buf = io.BytesIO()
        >>> Image.new("LA", (3, 2), (0, 0)).save(buf, "PNG")
        >>> rgb = decode_image(buf.getvalue())
        >>> rgb.shape, rgb.dtype, rgb[0, 0].tolist()  # transparent -> white
        ((2, 3, 3), dtype('uint8'), [255, 255, 255])
    """
    return decode_with_reduction(data, max_pixels=max_pixels).rgb


def decode_with_reduction(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """Decode image bytes as a photo viewer would show them, and say whether they were reduced.

    A JPEG above ``max_pixels`` is decoded at 1/2 or 1/4 scale, the largest size within
    it, with its EXIF orientation applied after the reduction. The module docstring says
    which large files are refused instead.

    Args:
        data: The whole file content (``bytes``, ``bytearray`` or ``memoryview``).
        max_pixels: Largest decoded ``width * height``. Pillow's own
            ``Image.MAX_IMAGE_PIXELS`` caps it too, if that is lower.

    Returns:
        The HxWx3 uint8 RGB array and its :class:`Reduction` (None at full size).

    Raises:
        ImageDecodeError: As :func:`decode_image`.
        TypeError: ``data`` is not bytes-like, or ``max_pixels`` is not an int.
        ValueError: ``max_pixels`` is not positive.

    Example:
        >>> import io
        >>> from PIL import Image
        >>> buf = io.BytesIO()
        >>> Image.new("RGB", (400, 300), (9, 99, 199)).save(buf, "JPEG")
        >>> decoded = decode_with_reduction(buf.getvalue(), max_pixels=50_000)
        >>> decoded.rgb.shape, decoded.reduction.scale
        ((150, 200, 3), 2)
        >>> print(decoded.reduction)
        decoded at 1/2 scale: 200×150 from 400×300 (0.1 MP, above the 0.05 MP limit for full resolution)
    """
    data = _as_bytes(data)
    _check_max_pixels(max_pixels)
    pixel_limit = _pixel_limit(max_pixels)
    fmt, im, reduction = _open(data, pixel_limit=pixel_limit)
    scale = 1 if reduction is None else reduction.scale
    if fmt == "JPEG":
        with im:
            rgb = _decode_plain_jpeg(data, im, scale)
        if rgb is not None:
            return DecodedImage(rgb, reduction)
        # Pillow starts afresh: the attempt may have read (and cached) a broken EXIF block.
        fmt, im, reduction = _open(data, pixel_limit=pixel_limit)
    with im:
        if scale > 1:
            _draft(im, reduction)
        try:
            im.load()
            ImageOps.exif_transpose(im, in_place=True)
        except Image.DecompressionBombError as e:
            raise ImageDecodeError(f"The image is too large to decode safely ({e}): downscale it first.") from e
        except _DECODE_ERRORS as e:
            raise _corrupt(fmt, e) from e
        return DecodedImage(pil_to_rgb(im), reduction)


def read_image(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file and decode it with :func:`decode_image`.

    The file's content decides the format; its extension is ignored. A JPEG above
    ``max_pixels`` comes back reduced: :func:`read_with_reduction` says so.

    Args:
        path: Path to an image file.
        max_pixels: Largest decoded ``width * height``.

    Returns:
        An HxWx3 uint8 RGB array, C-contiguous and writeable.

    Raises:
        ImageDecodeError: The file is missing or unreadable (the message names it), or
            it is not a usable image (the message is :func:`decode_image`'s).
        TypeError: ``path`` is not a str or path-like.
    """
    return read_with_reduction(path, max_pixels=max_pixels).rgb


def read_with_reduction(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """Read an image file and decode it with :func:`decode_with_reduction`.

    Args:
        path: Path to an image file; its content decides the format.
        max_pixels: Largest decoded ``width * height``.

    Returns:
        The HxWx3 uint8 RGB array and its :class:`Reduction` (None at full size).

    Raises:
        ImageDecodeError: As :func:`read_image`.
        TypeError: ``path`` is not a str or path-like.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}: pass the image file's path.")
    name = os.fspath(path)
    try:
        is_file = stat.S_ISREG(os.stat(name).st_mode)  # a FIFO or device could block or never end
        if is_file:
            with open(name, "rb") as f:
                data = f.read()
    except OSError as e:
        reason = e.strerror or str(e)
        raise ImageDecodeError(f"Cannot read {name} ({reason}): check the path and its permissions.") from e
    if not is_file:
        raise ImageDecodeError(f"Cannot read {name}: it is not a regular file; pass the path of an image file.")
    return decode_with_reduction(data, max_pixels=max_pixels)


def probe_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Read format, size and mode from the header without decoding any pixels.

    The pixel budget applies here too: the WebP parser allocates its canvas as soon as
    the header is read, so an unbounded probe would be a way around the budget. A probe
    refuses what :func:`decode_image` refuses, and says how a large JPEG will be reduced.

    Args:
        data: The whole file content.
        max_pixels: Largest decoded ``width * height``, as for :func:`decode_image`.

    Returns:
        The header facts, with width and height swapped when the EXIF orientation
        rotates the image by 90 degrees, and the :class:`Reduction` decoding will apply.

    Raises:
        ImageDecodeError: The bytes are empty, corrupt, too large or not a supported
            format.
        TypeError: ``data`` is not bytes-like, or ``max_pixels`` is not an int.
        ValueError: ``max_pixels`` is not positive.

    Example:
        >>> import io
        >>> from PIL import Image
        >>> buf = io.BytesIO()
        >>> Image.new("RGB", (40, 30)).save(buf, "JPEG")
        >>> str(probe_image(buf.getvalue()))
        '40×30 JPEG'
    """
    data = _as_bytes(data)
    _check_max_pixels(max_pixels)
    fmt, im, reduction = _open(data, pixel_limit=_pixel_limit(max_pixels))
    with im:
        width, height = im.size
        if _oriented_turn(fmt, im):
            width, height = height, width
        transparent = im.mode in _ALPHA_MODES or "transparency" in im.info
        return ImageInfo(fmt, width, height, im.mode, reduction, transparent)


def _as_bytes(data: object) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError(
        f"data must be bytes, got {type(data).__name__}: pass the file content, e.g. open(path, 'rb').read()."
    )


def _check_max_pixels(max_pixels: object) -> None:
    check_int(max_pixels, "max_pixels", hint=": pass e.g. 40_000_000.")
    if max_pixels <= 0:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}: pass e.g. 40_000_000.")


def _pixel_limit(max_pixels: int) -> int:
    """The caller's budget, capped by Pillow's decompression-bomb limit when that is lower."""
    bomb_limit = Image.MAX_IMAGE_PIXELS
    return max_pixels if bomb_limit is None else min(max_pixels, int(bomb_limit))


def _open(data: bytes, *, pixel_limit: int) -> tuple[str, ImageFile.ImageFile, Reduction | None]:
    """Sniff the format, check the size, parse the header and plan any reduction; no pixels are decoded."""
    if not data:
        raise ImageDecodeError("The file is empty (0 bytes): choose a file that contains an image.")
    fmt = _sniff(data)
    if fmt not in SUPPORTED_FORMATS:
        raise _unsupported(fmt, data)
    declared = _declared_size(fmt, data)
    if declared is not None:  # refuse before the parser runs (libwebp allocates on open)
        _check_size(*declared, pixel_limit, fmt)
    try:
        im = _OPENERS[fmt](io.BytesIO(data))
    except Image.DecompressionBombError as e:
        raise ImageDecodeError(f"The image is too large to decode safely ({e}): downscale it first.") from e
    except _DECODE_ERRORS as e:
        raise _corrupt(fmt, e) from e
    try:
        width, height = im.size
        if fmt == "JPEG" and width > 0 and height > 0 and width * height > pixel_limit:
            reduction = _plan_reduction(data, im, pixel_limit)
        else:
            _check_size(width, height, pixel_limit, fmt)
            reduction = None
    except ImageDecodeError:
        im.close()
        raise
    return fmt, im, reduction


def _sniff(data: bytes) -> str:
    """Name the format from the leading bytes; ``""`` when nothing matches."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:2] == b"BM" and int.from_bytes(data[14:18], "little") in _BMP_HEADER_SIZES:
        return "BMP"
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # classic and BigTIFF
        return "TIFF"
    for magic, name in _REFUSED_MAGIC:
        if data.startswith(magic):
            return name
    return _iso_media_name(data) or _markup_name(data)


def _iso_media_name(data: bytes) -> str:
    """Name an ISO base media file (HEIC, AVIF, MP4, ...) from its ``ftyp`` box."""
    if data[4:8] != b"ftyp":
        return ""
    box_end = min(int.from_bytes(data[:4], "big"), len(data), 256)
    brands = {data[8:12]} | {data[i : i + 4] for i in range(16, box_end - 3, 4)}
    if brands & _AVIF_BRANDS:
        return "AVIF"
    if brands & _HEIC_BRANDS:
        return "HEIC"
    if brands & _HEIF_BRANDS:
        return "HEIF"
    return "MP4/MOV video"


def _markup_name(data: bytes) -> str:
    """Name SVG, XML and HTML text, which some tools save with an image extension."""
    head = data[:4096].removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith((b"<?xml", b"<!--", b"<!doctype svg")) and b"<svg" in head):
        return "SVG"
    if head.startswith((b"<!doctype html", b"<html")):
        return "HTML"
    if head.startswith(b"<?xml"):
        return "XML"
    return ""


def _declared_size(fmt: str, data: bytes) -> tuple[int, int] | None:
    """Width and height stored at fixed offsets of a PNG, BMP or WebP header, if present."""
    if fmt == "PNG" and data[12:16] == b"IHDR" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if fmt == "BMP" and len(data) >= 26:
        if int.from_bytes(data[14:18], "little") == 12:  # OS/2 BITMAPCOREHEADER
            return struct.unpack("<HH", data[18:22])
        width, height = struct.unpack("<ii", data[18:26])
        return abs(width), abs(height)  # a negative height means top-down rows
    if fmt == "WEBP" and len(data) >= 30:
        chunk = data[12:16]
        if chunk == b"VP8X":  # extended: 24-bit canvas size minus one
            return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
        if chunk == b"VP8L" and data[20] == 0x2F:  # lossless: 14-bit sizes minus one
            bits = int.from_bytes(data[21:25], "little")
            return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
        if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":  # lossy key frame
            return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
    return None


def _check_size(width: int, height: int, pixel_limit: int, fmt: str) -> None:
    """Refuse an empty size, or a size above the budget in a format that cannot be decoded reduced."""
    if width <= 0 or height <= 0:
        raise ImageDecodeError(
            f"The image declares a size of {width}×{height} pixels, which is empty: the file is corrupt; re-export it."
        )
    if width * height > pixel_limit:
        size, limit = _size_and_limit(width, height, pixel_limit)
        raise ImageDecodeError(
            f"The image is {width}×{height} = {size}, above the {limit} limit for {fmt} files (only JPEG photos are "
            f"decoded at a reduced size): downscale it to at most {_at_most(limit)}, or save it as a JPEG."
        )


def _at_most(limit: str) -> str:
    """The limit of :func:`_size_and_limit` as an amount: ``"40 MP"``, ``"19,999 pixels"``."""
    return limit.replace("-pixel", " pixels")


def _size_and_limit(width: int, height: int, pixel_limit: int) -> tuple[str, str]:
    """``("48 MP", "40 MP")``, or exact pixel counts when rounding would hide the difference."""
    pixels = width * height
    size, limit = f"{_megapixels(pixels)} MP", f"{_megapixels(pixel_limit)} MP"
    if float(size.split()[0]) <= float(limit.split()[0]):
        size, limit = f"{pixels:,} pixels", f"{pixel_limit:,}-pixel"
    return size, limit


def _plan_reduction(data: bytes, im: ImageFile.ImageFile, pixel_limit: int) -> Reduction:
    """The DCT scale for a JPEG above the budget, or a refusal; no pixels are decoded.

    Args:
        data: The whole file, sniffed as JPEG.
        im: Pillow's header-only view of ``data``, whose size is above ``pixel_limit``.
        pixel_limit: The budget for the decoded size.
    """
    width, height = im.size
    size, limit = _size_and_limit(width, height, pixel_limit)
    scale = next((s for s in _REDUCTIONS if _ceil_div(width, s) * _ceil_div(height, s) <= pixel_limit), None)
    if scale is None:
        raise ImageDecodeError(
            f"The image is {width}×{height} = {size}, more than any camera photo: even at 1/{_REDUCTIONS[-1]} "
            f"scale it is above the {limit} limit; downscale it first."
        )
    if len(data) * _JPEG_MAX_PIXELS_PER_BYTE < width * height:
        raise ImageDecodeError(
            f"The file is truncated or corrupt: a JPEG of {width}×{height} pixels needs at least "
            f"{_byte_size(_ceil_div(width * height, _JPEG_MAX_PIXELS_PER_BYTE))}, but the file holds "
            f"{_byte_size(len(data))}; re-download or re-export it."
        )
    scans = "progressive" if im.info.get("progressive") else "multi-scan"
    if scans == "progressive" or _jpeg_first_scan_components(data) != len(im.layer):
        needed = _jpeg_coefficient_bytes(im)
        allowed = _COEFFICIENT_BYTES_PER_BUDGET_PIXEL * pixel_limit
        if needed > allowed:
            raise ImageDecodeError(
                f"The image is a {scans} JPEG of {width}×{height} = {size}, above the {limit} limit, and decoding it "
                f"at any size holds all its DCT coefficients ({_byte_size(needed)}, more than the "
                f"{_byte_size(allowed)} allowed): re-save it as a baseline JPEG, or downscale it to at most "
                f"{_at_most(limit)}."
            )
    full = (width, height)
    reduced = (_ceil_div(width, scale), _ceil_div(height, scale))
    if _oriented_turn("JPEG", im):
        full, reduced = full[::-1], reduced[::-1]
    return Reduction(scale, *reduced, *full, max_pixels=pixel_limit)


def _byte_size(n: int) -> str:
    """``"94 KB"``, ``"1.02 MB"``, ``"324 MB"``: kilobytes rounded up, megabytes to 3 digits."""
    return f"{n / 1e6:.3g} MB" if n >= 1_000_000 else f"{_ceil_div(n, 1000):,} KB"


def _ceil_div(a: int, b: int) -> int:
    """``a / b`` rounded up, in integers: a side of ``a`` pixels decoded at ``1/b`` scale, as libjpeg does."""
    return -(-a // b)


def _jpeg_first_scan_components(data: bytes) -> int | None:
    r"""How many components the first scan (SOS) of a JPEG codes; None if the header walk fails.

    Only the length-prefixed segments before the first scan are read (the header, as
    Pillow reads it); :func:`_jpeg_end` is the walk through the whole file. libjpeg keeps
    every DCT coefficient of the image when the first scan codes fewer components than
    the frame has, or the frame is progressive.

    Example:
        >>> _jpeg_first_scan_components(b"\xff\xd8\xff\xfe\x00\x03x\xff\xda\x00\x0c\x03")
        3
    """
    pos = 2  # after SOI
    while pos + 4 < len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # a fill byte before the marker
            pos += 1
            continue
        if marker == _JPEG_SOS:
            return data[pos + 4]
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # TEM, RSTn, SOI carry no length
            return None
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2:
            return None
        pos += 2 + length
    return None


def _jpeg_coefficient_bytes(im: ImageFile.ImageFile) -> int:
    """Bytes libjpeg holds for a whole-image coefficient buffer: 64 x 2 bytes per 8x8 block."""
    width, height = im.size
    layers = getattr(im, "layer", None) or [(0, 1, 1, 0)] * 4  # unknown: as if 4 full-size components
    h_max = max(h for _, h, _, _ in layers) or 1
    v_max = max(v for _, _, v, _ in layers) or 1
    blocks = sum(_ceil_div(width * h, 8 * h_max) * _ceil_div(height * v, 8 * v_max) for _, h, v, _ in layers)
    return blocks * 64 * 2


def _draft(im: ImageFile.ImageFile, reduction: Reduction) -> None:
    """Make Pillow's JPEG decoder scale by ``1/reduction.scale`` (libjpeg's DCT scaling), or refuse."""
    width, height, scale = *im.size, reduction.scale
    im.draft(im.mode, (width // scale, height // scale))  # Pillow picks the largest 1/n that fits: 1/scale
    if im.size != (_ceil_div(width, scale), _ceil_div(height, scale)):
        raise ImageDecodeError(
            f"The JPEG of {width}×{height} pixels cannot be decoded at a reduced size: downscale it to at most "
            f"{_megapixels(reduction.max_pixels)} MP first."
        )


def _oriented_turn(fmt: str, im: ImageFile.ImageFile) -> bool:
    """Whether the EXIF orientation turns the image by 90 degrees (swapping width and height)."""
    try:
        return _header_orientation(im) in (5, 6, 7, 8)
    except _DECODE_ERRORS as e:
        raise _corrupt(fmt, e) from e


def _megapixels(pixels: int) -> str:
    mp = pixels / 1e6
    if mp == round(mp) or mp >= 100:
        return f"{mp:.0f}"
    return f"{mp:.1f}" if mp >= 0.1 else f"{mp:.2g}"


def _unsupported(fmt: str, data: bytes) -> ImageDecodeError:
    name = fmt or _pillow_format_name(data[:16])
    if name in SUPPORTED_FORMATS or name in ("MPO", "DIB"):
        # Pillow's looser test matches a supported format whose header we rejected.
        return ImageDecodeError(
            f"The file is truncated or corrupt: it starts like a {name} image but its header is invalid; "
            "re-export or re-download it."
        )
    if name:
        return ImageDecodeError(f"Unsupported format {name}: {_WHAT_TO_UPLOAD}.")
    return ImageDecodeError(f"Unsupported format: the file is not a recognisable image; {_WHAT_TO_UPLOAD}.")


def _pillow_format_name(prefix: bytes) -> str:
    """Ask Pillow's format registry which format the first 16 bytes look like.

    Only the plugins' prefix tests run; no plugin parses the data.
    """
    Image.init()
    for name in Image.ID:
        accept = Image.OPEN[name][1]
        try:
            if accept is not None and accept(prefix) is True:
                return name
        except Exception:  # noqa: BLE001 - a prefix test that fails just doesn't match
            continue
    return ""


def _corrupt(fmt: str, error: BaseException) -> ImageDecodeError:
    detail = str(error).strip() or type(error).__name__
    return ImageDecodeError(
        f"The file is truncated or corrupt: the {fmt} data could not be decoded ({detail}); "
        "re-download or re-export it."
    )


def _header_orientation(im: ImageFile.ImageFile) -> int:
    """EXIF orientation available without decoding pixels; 1 when unknown."""
    if im.format == "PNG" and "exif" not in im.info:
        return 1  # an eXIf chunk after the pixel data is only read by load()
    orientation = im.getexif().get(_EXIF_ORIENTATION, 1)
    return orientation if isinstance(orientation, int) else 1


def _decode_plain_jpeg(data: bytes, im: ImageFile.ImageFile, scale: int = 1) -> np.ndarray | None:
    """Decode a plain JPEG with OpenCV exactly as the Pillow path would; None to leave it to Pillow.

    Args:
        data: The whole file, already sniffed as JPEG.
        im: Pillow's header-only view of ``data``, already checked against the pixel budget.
        scale: Decode at ``1/scale`` (1, 2 or 4) by libjpeg's DCT scaling, as Pillow's
            ``draft`` does.

    Returns:
        The HxWx3 uint8 RGB array, oriented by the EXIF orientation Pillow reads, or None
        when the file is not plain (see the module docstring) or OpenCV cannot decode it.
    """
    if _IMREAD_FLAGS is None or im.mode not in ("RGB", "L") or _jpeg_end(data) is None:
        return None
    try:  # what ImageOps.exif_transpose reads (XMP orientation included) and then rewrites
        exif = im.getexif()
        orient = _ORIENT.get(exif.get(_EXIF_ORIENTATION, 1))
        if orient is not None and _EXIF_ORIENTATION in exif:
            del exif[_EXIF_ORIENTATION]
            if "exif" in im.info:
                exif.tobytes()  # exif_transpose fails on an EXIF block Pillow cannot rewrite
    except _DECODE_ERRORS:
        return None  # the Pillow path refuses it with the message it always gave
    try:
        flags = _IMREAD_FLAGS | _IMREAD_SCALE[scale]
        rgb = cv2.imdecode(np.frombuffer(data, np.uint8), flags)  # HxWx3 uint8 RGB, as stored, 1/scale per side
    except cv2.error:
        return None
    width, height = _ceil_div(im.size[0], scale), _ceil_div(im.size[1], scale)
    if rgb is None or rgb.shape != (height, width, 3) or rgb.dtype != np.uint8:
        return None
    return rgb if orient is None else orient(rgb)


def _jpeg_end(data: bytes) -> int | None:
    r"""Offset just past the EOI marker that ends the first image in ``data``, or None.

    Walks the markers from SOI as libjpeg reads them: a segment's length field skips its
    payload; between segments and inside entropy-coded data the next marker is the next
    0xFF followed by a byte other than 0x00 (a stuffed 0xFF) or 0xFF (fill), and restart
    markers carry no length. None means the walk ran off the end of the data, met a marker
    outside ``_JPEG_SEGMENTS`` or a bad length: a decoder would run short or refuse.

    Example:
        >>> _jpeg_end(b"\xff\xd8\xff\xfe\x00\x04hi\x12\xff\x00\xff\xd9trailer")
        13
        >>> _jpeg_end(b"\xff\xd8\xff\xfe\x00\x08\xff\xd9")  # the EOI is inside the comment
    """
    raw = np.frombuffer(data, np.uint8)
    at = np.flatnonzero(raw[:-1] == 0xFF)  # candidate marker offsets
    code = raw[at + 1]
    is_marker = (code != 0x00) & (code != 0xFF) & ((code < 0xD0) | (code > 0xD7))  # RST0-7: no length
    at, code = at[is_marker], code[is_marker]
    pos = 2  # after SOI
    while (k := int(np.searchsorted(at, pos))) < len(at):
        marker, pos = int(code[k]), int(at[k]) + 2
        if marker == _JPEG_EOI:
            return pos
        if marker not in _JPEG_SEGMENTS or pos + 2 > len(data):
            return None
        length = int.from_bytes(data[pos : pos + 2], "big")  # counts itself, not the marker
        if length < 2:
            return None
        pos += length
    return None


def pil_to_rgb(im: Image.Image) -> np.ndarray:
    """Convert a loaded image of any mode to an HxWx3 uint8 RGB array, transparency on white.

    Every decoded picture goes through it: stills here, and the frames of animated GIFs in
    :mod:`core.video.reader`.
    """
    mode = im.mode
    if mode.startswith("I;16") or mode == "I":  # a tRNS grey level is ignored at 16 bits
        return _gray_to_rgb(_scale_integer(np.asarray(im)))
    if mode == "F":
        return _gray_to_rgb(_scale_float(np.asarray(im)))
    if mode in _ALPHA_MODES or "transparency" in im.info:
        rgba = im if mode == "RGBA" else im.convert("RGBA")
        rgb = Image.new("RGB", im.size, (255, 255, 255))
        rgb.paste(rgba, mask=rgba)  # composite on white: alpha 0 -> white
        return np.array(rgb)
    try:
        rgb = im if mode == "RGB" else im.convert("RGB")  # 1, L, P, CMYK, YCbCr, LAB, HSV
    except ValueError as e:
        raise ImageDecodeError(f"Unsupported pixel mode {mode}: re-export the image as 8-bit RGB.") from e
    return np.array(rgb)  # HxWx3 uint8, a fresh writeable copy


def _scale_integer(values: np.ndarray) -> np.ndarray:
    """Scale 16-bit samples to 0-255 (value * 255 / 65535, rounded); wider ones min-max."""
    # HxW uint16 or int32 -> HxW uint8
    lo, hi = int(values.min()), int(values.max())
    if lo >= 0 and hi <= 65535:
        scaled = values.astype(np.uint32)  # in place from here: this may be 40 MP
        scaled *= 255
        scaled += 32767
        scaled //= 65535
        return scaled.astype(np.uint8)
    return _scale_float(values.astype(np.float64))


def _scale_float(values: np.ndarray) -> np.ndarray:
    """Map float samples to 0-255: x255 when they lie in [0, 1], else min-max; NaN and inf -> 0."""
    # HxW float -> HxW uint8
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(values.shape, np.uint8)
    values = values.astype(np.float64)
    lo = float(values.min(where=finite, initial=np.inf))
    hi = float(values.max(where=finite, initial=-np.inf))
    if lo >= 0.0 and hi <= 1.0:
        scaled = values * 255.0
    elif hi > lo:
        scaled = (values - lo) * (255.0 / (hi - lo))
    else:  # a constant outside [0, 1] has no range to stretch
        scaled = np.zeros_like(values)
    scaled = np.where(finite, np.rint(scaled), 0.0)
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[:, :, None], 3, axis=2)  # HxW -> HxWx3, C-contiguous
