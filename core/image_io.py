"""Decode untrusted image bytes into RGB arrays: the one gate every image passes through.

The dashboard upload, the camera, the bundled samples and the CLI all call
:func:`decode_image` (or :func:`read_image` for a path). The gate:

* names the format from the content, never from a file extension, and accepts only
  JPEG, PNG, WebP, BMP, TIFF and GIF (first frame). SVG, PDF, PSD, EPS, HEIC/HEIF, AVIF,
  ICO and anything else are refused by name, even the ones Pillow could open;
* refuses images above a pixel budget from the header size, before any pixel is decoded;
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

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "SUPPORTED_FORMATS",
    "ImageDecodeError",
    "ImageInfo",
    "decode_image",
    "probe_image",
    "read_image",
]

DEFAULT_MAX_PIXELS = 40_000_000
"""Largest accepted width × height; a 40 MP RGB image is 120 MB once decoded."""

SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")
"""Formats :func:`decode_image` accepts, as named in :attr:`ImageInfo.format`."""

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


class ImageDecodeError(ValueError):
    """The bytes are not an image this app can use; the message is meant for the user."""


@dataclass(frozen=True)
class ImageInfo:
    """What an image header says, oriented as a photo viewer would show the image.

    Attributes:
        format: One of :data:`SUPPORTED_FORMATS`.
        width: Width in pixels after the EXIF orientation is applied.
        height: Height in pixels after the EXIF orientation is applied.
        mode: Pillow's pixel mode as stored, e.g. ``"RGB"``, ``"CMYK"`` or ``"I;16"``.
    """

    format: str
    width: int
    height: int
    mode: str

    def __str__(self) -> str:
        return f"{self.width}×{self.height} {self.format}"


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode image bytes into an RGB array as a photo viewer would show it.

    Args:
        data: The whole file content (``bytes``, ``bytearray`` or ``memoryview``).
        max_pixels: Largest accepted ``width * height``. Pillow's own
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
    data = _as_bytes(data)
    _check_max_pixels(max_pixels)
    pixel_limit = _pixel_limit(max_pixels)
    fmt, im = _open(data, pixel_limit=pixel_limit)
    if fmt == "JPEG":
        with im:
            rgb = _decode_plain_jpeg(data, im)
        if rgb is not None:
            return rgb
        # Pillow starts afresh: the attempt may have read (and cached) a broken EXIF block.
        fmt, im = _open(data, pixel_limit=pixel_limit)
    with im:
        try:
            im.load()
            ImageOps.exif_transpose(im, in_place=True)
        except Image.DecompressionBombError as e:
            raise ImageDecodeError(f"The image is too large to decode safely ({e}): downscale it first.") from e
        except _DECODE_ERRORS as e:
            raise _corrupt(fmt, e) from e
        return _to_rgb(im)


def read_image(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file and decode it with :func:`decode_image`.

    The file's content decides the format; its extension is ignored.

    Args:
        path: Path to an image file.
        max_pixels: Largest accepted ``width * height``.

    Returns:
        An HxWx3 uint8 RGB array, C-contiguous and writeable.

    Raises:
        ImageDecodeError: The file is missing or unreadable (the message names it), or
            it is not a usable image (the message is :func:`decode_image`'s).
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
    return decode_image(data, max_pixels=max_pixels)


def probe_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Read format, size and mode from the header without decoding any pixels.

    The pixel budget applies here too: the WebP parser allocates its canvas as soon as
    the header is read, so an unbounded probe would be a way around the budget.

    Args:
        data: The whole file content.
        max_pixels: Largest accepted ``width * height``, as for :func:`decode_image`.

    Returns:
        The header facts, with width and height swapped when the EXIF orientation
        rotates the image by 90 degrees.

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
    fmt, im = _open(data, pixel_limit=_pixel_limit(max_pixels))
    with im:
        width, height = im.size
        try:
            orientation = _header_orientation(im)
        except _DECODE_ERRORS as e:
            raise _corrupt(fmt, e) from e
        if orientation in (5, 6, 7, 8):
            width, height = height, width
        return ImageInfo(format=fmt, width=width, height=height, mode=im.mode)


def _as_bytes(data: object) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError(
        f"data must be bytes, got {type(data).__name__}: pass the file content, e.g. open(path, 'rb').read()."
    )


def _check_max_pixels(max_pixels: object) -> None:
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int):
        raise TypeError(f"max_pixels must be an int, got {type(max_pixels).__name__}: pass e.g. 40_000_000.")
    if max_pixels <= 0:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}: pass e.g. 40_000_000.")


def _pixel_limit(max_pixels: int) -> int:
    """The caller's budget, capped by Pillow's decompression-bomb limit when that is lower."""
    bomb_limit = Image.MAX_IMAGE_PIXELS
    return max_pixels if bomb_limit is None else min(max_pixels, int(bomb_limit))


def _open(data: bytes, *, pixel_limit: int) -> tuple[str, ImageFile.ImageFile]:
    """Sniff the format, check the size and parse the header; no pixels are decoded."""
    if not data:
        raise ImageDecodeError("The file is empty (0 bytes): choose a file that contains an image.")
    fmt = _sniff(data)
    if fmt not in SUPPORTED_FORMATS:
        raise _unsupported(fmt, data)
    declared = _declared_size(fmt, data)
    if declared is not None:  # refuse before the parser runs (libwebp allocates on open)
        _check_size(*declared, pixel_limit)
    try:
        im = _OPENERS[fmt](io.BytesIO(data))
    except Image.DecompressionBombError as e:
        raise ImageDecodeError(f"The image is too large to decode safely ({e}): downscale it first.") from e
    except _DECODE_ERRORS as e:
        raise _corrupt(fmt, e) from e
    try:
        _check_size(*im.size, pixel_limit)
    except ImageDecodeError:
        im.close()
        raise
    return fmt, im


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


def _check_size(width: int, height: int, pixel_limit: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageDecodeError(
            f"The image declares a size of {width}×{height} pixels, which is empty: the file is corrupt; re-export it."
        )
    pixels = width * height
    if pixels > pixel_limit:
        size, limit = f"{_megapixels(pixels)} MP", f"{_megapixels(pixel_limit)} MP"
        if float(size.split()[0]) <= float(limit.split()[0]):  # rounding hid the difference
            size, limit = f"{pixels:,} pixels", f"{pixel_limit:,}-pixel"
        raise ImageDecodeError(f"The image is {width}×{height} = {size}, above the {limit} limit: downscale it first.")


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


def _decode_plain_jpeg(data: bytes, im: ImageFile.ImageFile) -> np.ndarray | None:
    """Decode a plain JPEG with OpenCV exactly as the Pillow path would; None to leave it to Pillow.

    Args:
        data: The whole file, already sniffed as JPEG.
        im: Pillow's header-only view of ``data``, already checked against the pixel budget.

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
        rgb = cv2.imdecode(np.frombuffer(data, np.uint8), _IMREAD_FLAGS)  # HxWx3 uint8 RGB, as stored
    except cv2.error:
        return None
    width, height = im.size
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


def _to_rgb(im: Image.Image) -> np.ndarray:
    """Convert a loaded image of any mode to an HxWx3 uint8 RGB array."""
    mode = im.mode
    if mode.startswith("I;16") or mode == "I":  # a tRNS grey level is ignored at 16 bits
        return _gray_to_rgb(_scale_integer(np.asarray(im)))
    if mode == "F":
        return _gray_to_rgb(_scale_float(np.asarray(im)))
    if mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in im.info:
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
