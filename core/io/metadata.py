"""What a depth file holds, written into the file (PNG text chunks) or next to it (a JSON sidecar).

One record, :class:`DepthFacts`, carries the facts every export states: what the values are
(relative inverse depth, or depth in metres after a calibration), which end is near, how values
map to codes (the value stored as 0 and the value stored as the top code), the model, the weights'
SHA-256, the network size N, the source image's size and the app version. The same field names
appear in a PNG's ``tEXt`` chunks, in a ``.npy``/``.npz``/``.pfm`` file's ``<name>.json`` sidecar,
in an EXR's header, in a GLB's ``asset.extras`` (:mod:`core.io.mesh_exports`), in a GIF's comment
(:func:`facts_text`) and in an MP4's container metadata (:mod:`core.video.photo3d`);
``python -m core describe FILE`` prints them (:mod:`core.io.describe`).

Example:
    >>> facts = DepthFacts("MiDaS v2.1 small", "ab" * 32, 256, (640, 480)).png16(0.5, 7.25)
    >>> fields = facts.fields()
    >>> fields["content"], fields["value_at_0"], fields["value_at_max"], fields["max_code"]
    ('relative inverse depth', 0.5, 7.25, 65535)
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
import zlib
from collections.abc import Mapping
from pathlib import Path

from core import __version__
from core.checks import is_int, is_real
from core.geometry.intrinsics import FieldOfView
from core.geometry.stereo import check_settings

__all__ = [
    "DepthFacts",
    "check_facts",
    "facts_for",
    "facts_text",
    "png_with_text",
    "read_facts_text",
    "read_png_text",
    "read_sidecar",
    "sidecar_bytes",
    "sidecar_facts",
    "sidecar_name",
]

#: What MiDaS predicts.
RELATIVE = "relative inverse depth"
_SOFTWARE = f"MiDaS depth explorer {__version__}"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_KEYWORD_MAX = 79  # PNG keywords are 1-79 Latin-1 characters


@dataclasses.dataclass(frozen=True)
class DepthFacts:
    """The facts a depth file states about itself; :meth:`fields` gives them as written.

    Build the common part once per prediction (:func:`facts_for`), then say how one file encodes
    the values: :meth:`png16`, :meth:`heatmap`, :meth:`raw`, and :meth:`metric` after a calibration;
    or what a picture made from the prediction shows: :meth:`stereo`, :meth:`texture`.

    Attributes:
        model: the model's name, e.g. ``"MiDaS v2.1 small"``.
        weights_sha256: SHA-256 of the weights file that made the prediction (64 hex digits).
        network_size: N, the side of the network input.
        source_size: (width, height) of the source image in pixels.
        content: ``"relative inverse depth"`` (unitless, larger = nearer) or ``"depth"``.
        units: ``"unitless"``, ``"metres"`` or ``"millimetres"``.
        near: which values or codes are near, e.g. ``"large values"``, ``"bright (65535)"``.
        encoding: how the values are stored, e.g. ``"float32"``, ``"uint16 linear"``.
        value_at_0: the value stored as code 0 (quantised files only).
        value_at_max: the value stored as the top code (quantised files only).
        max_code: the top code, 255 or 65535 (quantised files only).
        scale: the calibration's fitted ``s`` in ``1 / depth_m = s * d + t`` (metric files only).
        shift: the calibration's fitted ``t``, in 1/metres (metric files only).
        extra: further (key, value) fields, e.g. ``("shape", "480x640")``.
        app_version: the app that wrote the file (:data:`core.__version__`).
    """

    model: str
    weights_sha256: str
    network_size: int
    source_size: tuple[int, int]
    content: str = RELATIVE
    units: str = "unitless"
    near: str = "large values"
    encoding: str = "float32"
    value_at_0: float | None = None
    value_at_max: float | None = None
    max_code: int | None = None
    scale: float | None = None
    shift: float | None = None
    extra: tuple[tuple[str, str], ...] = ()
    app_version: str = __version__

    def __post_init__(self) -> None:
        for name in ("model", "weights_sha256", "content", "units", "near", "encoding", "app_version"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{name} must be a str, got {type(getattr(self, name)).__name__}")
        if not is_int(self.network_size) or self.network_size <= 0:
            raise ValueError(f"network_size must be a positive int (N), got {self.network_size!r}")
        size = self.source_size
        if not (isinstance(size, tuple) and len(size) == 2 and all(is_int(v) and v > 0 for v in size)):
            raise ValueError(f"source_size must be (width, height) in pixels, got {size!r}")
        for name in ("value_at_0", "value_at_max", "scale", "shift"):
            value = getattr(self, name)
            if value is not None and not is_real(value):
                raise TypeError(f"{name} must be a real number or None, got {value!r}")
        if self.max_code is not None and (not is_int(self.max_code) or self.max_code <= 0):
            raise ValueError(f"max_code must be a positive int or None, got {self.max_code!r}")
        for key, _ in self.extra:
            if key in _FIELD_NAMES:
                raise ValueError(f"extra field {key!r} would hide the field of that name; pick another key")

    def png16(self, lo: float, hi: float) -> DepthFacts:
        """The facts of a 16-bit grayscale PNG that stores ``lo`` as 0 and ``hi`` as 65535 (near = bright)."""
        return dataclasses.replace(
            self, encoding="uint16 grayscale, linear: code = round((value - value_at_0) / "
            "(value_at_max - value_at_0) * 65535), clipped to 0-65535",
            near="bright (65535)", value_at_0=float(lo), value_at_max=float(hi), max_code=65535,
            extra=_without(self.extra, "shape"),
        )

    def heatmap(self, cmap: str, lo: float, hi: float, invert: bool = False) -> DepthFacts:
        """The facts of a colour heatmap: colormap ``cmap`` from ``lo`` (index 0) to ``hi`` (index 255)."""
        end = "first" if invert else "last"
        return dataclasses.replace(
            self, encoding=f"8-bit RGB heatmap, colormap {cmap}{' inverted' if invert else ''}: value_at_0 gets the "
            f"colormap's {'last' if invert else 'first'} colour, value_at_max its {end}; for viewing, not for values",
            near=f"the {end} colour of {cmap}", value_at_0=float(lo), value_at_max=float(hi), max_code=255,
            extra=_without(self.extra, "shape"),
        )

    def raw(self, dtype: str, shape: tuple[int, ...]) -> DepthFacts:
        """The facts of a raw float array (``.npy``, ``.npz``, PFM, EXR) of ``dtype`` and ``shape``."""
        near = "large values" if self.content == RELATIVE else "small values"
        return dataclasses.replace(
            self, encoding=f"{dtype}, the values themselves", near=near, value_at_0=None, value_at_max=None,
            max_code=None, extra=(*_without(self.extra, "shape"), ("shape", "x".join(str(int(n)) for n in shape))),
        )

    def metric(self, scale: float, shift: float, units: str = "metres") -> DepthFacts:
        """The facts of depth from a calibration ``1 / depth_m = scale * d + shift``; 0 means no depth."""
        if units not in ("metres", "millimetres"):
            raise ValueError(f"units must be 'metres' or 'millimetres', got {units!r}")
        extra = (*_without(self.extra, "calibration", "no_depth"),
                 ("calibration", "1 / depth_m = scale * d + shift, d = the relative inverse depth"),
                 ("no_depth", "0"))
        return dataclasses.replace(self, content="depth", units=units, near="small values", scale=float(scale),
                                   shift=float(shift), extra=extra)

    def millimetre_png16(self) -> DepthFacts:
        """The facts of a calibrated map as a 16-bit PNG of whole millimetres (0 = no depth), from :meth:`metric`'s."""
        if self.content != "depth" or self.scale is None or self.shift is None:
            raise ValueError("millimetre_png16 needs the facts of a calibrated map: call .metric(scale, shift) first")
        return dataclasses.replace(
            self, units="millimetres", near="dark (small codes; 0 = no depth)",
            encoding="uint16 grayscale: code = depth in whole millimetres, rounded; 0 = no depth (none from the fit, "
            "or beyond 65.535 m)", value_at_0=0.0, value_at_max=65535.0, max_code=65535,
            extra=_without(self.extra, "shape"),
        )

    def stereo(
        self, layout: str, strength_pct: float, convergence: float, fill: str, *,
        fov: FieldOfView | float | None = None, baseline_m: float | None = None,
    ) -> DepthFacts:
        """The facts of a stereo picture rendered from this prediction: colours, not depth values.

        Args:
            layout: how the views were laid out: one of :func:`core.geometry.stereo.compose`'s
                ``LAYOUTS`` ("sbs", "cross", "tb", "anaglyph"), or "wiggle" (the GIF of
                :func:`core.video.photo3d.wiggle_gif`) or "orbit" (its MP4).
            strength_pct: the disparity between the nearest and the farthest pixel, % of the width.
            convergence: the depth at the screen, 0 (the farthest pixel) to 1 (the nearest).
            fill: how the holes were filled, one of ``core.geometry.stereo.FILLS``.
            fov: the field of view the strength was read with (:mod:`core.geometry.intrinsics`;
                a :class:`FieldOfView` states where it came from), written as ``field_of_view``.
            baseline_m: the camera baseline the strength means, in metres, when the map was
                calibrated (:func:`core.geometry.stereo.baseline_m`), written as ``baseline``.
        """
        if layout not in _LAYOUT_TEXT:
            raise ValueError(f"layout must be one of {tuple(_LAYOUT_TEXT)}, got {layout!r}")
        if fill not in _FILL_TEXT:
            raise ValueError(f"fill must be one of {tuple(_FILL_TEXT)}, got {fill!r}")
        strength_pct, convergence = check_settings(strength_pct, convergence)  # as the rendering checks them
        camera: dict[str, str] = {}
        if fov is not None:
            camera["field_of_view"] = _fov_text(fov)
        if baseline_m is not None:
            if not is_real(baseline_m) or baseline_m <= 0:
                raise ValueError(f"baseline_m must be a positive number of metres or None, got {baseline_m!r}")
            camera["baseline"] = (f"{float(baseline_m):.4g} m between the two cameras (from a calibration to "
                                  "metres and the field of view)")
        encoding = _LAYOUT_TEXT[layout] if layout in _ANIMATIONS else f"8-bit RGB, {_LAYOUT_TEXT[layout]}"
        return self._picture(
            "stereo views rendered from relative inverse depth", encoding,
            "not stored: nearer pixels are shifted further apart between the two views",
            layout=layout, strength=f"{strength_pct:g} % of the width between the nearest and the farthest pixel",
            convergence=f"{convergence:g} (0 = the farthest pixel at the screen, 1 = the nearest)",
            hole_fill=_FILL_TEXT[fill], **camera,
        )

    def mesh(self, fov: FieldOfView | float) -> DepthFacts:
        """The facts of a textured mesh built from this prediction (:func:`core.geometry.mesh.build_mesh`).

        Args:
            fov: the horizontal field of view the pixels were back-projected with.
        """
        return dataclasses.replace(
            self._picture("a triangle mesh of the depth, textured with the photo",
                          "glTF 2.0 binary: float32 vertex positions, y up, the camera at the origin looking down "
                          "-z; the photo as the base colour texture",
                          "vertices close to the origin, where the camera is", field_of_view=_fov_text(fov)),
            units="unitless: depth 1 / (scale * d / reference + shift) of the relative inverse depth d, not metres",
        )

    def texture(self) -> DepthFacts:
        """The facts of the photo written as a mesh's texture: colours, not depth values."""
        return self._picture("the photo, as the mesh's texture", "8-bit RGB, the source photo's colours "
                             "(shrunk to the texture's size)", "not stored: the mesh's vertices hold the depth")

    def _picture(self, content: str, encoding: str, near: str, **fields: str) -> DepthFacts:
        """A picture made from the prediction: no value mapping, its own fields as :attr:`extra`."""
        keep = _without(self.extra, "shape", *_PICTURE_FIELDS, *fields)
        return dataclasses.replace(
            self, content=content, units="none: a picture, not values", near=near, encoding=encoding,
            value_at_0=None, value_at_max=None, max_code=None, scale=None, shift=None,
            extra=(*keep, *fields.items()),
        )

    def with_extra(self, **fields: str) -> DepthFacts:
        """These facts with more fields (replacing extra fields of the same names)."""
        return dataclasses.replace(self, extra=(*_without(self.extra, *fields), *fields.items()))

    @classmethod
    def from_fields(cls, fields: Mapping[str, object]) -> DepthFacts:
        """The facts back from :meth:`fields`, a sidecar (:func:`read_sidecar`) or PNG text (:func:`read_png_text`).

        Numbers may be given as text; keys other than the fields become :attr:`extra`, except
        ``Software`` and a sidecar's ``arrays``.

        Raises:
            ValueError: a required field (model, weights_sha256, network_size, source_size) is missing or bad.
        """
        try:
            width, height = (int(v) for v in str(fields["source_size"]).split("x"))
            known: dict[str, object] = {
                "model": str(fields["model"]), "weights_sha256": str(fields["weights_sha256"]),
                "network_size": int(fields["network_size"]), "source_size": (width, height),
            }
            for name in ("content", "units", "near", "encoding", "app_version"):
                if name in fields:
                    known[name] = str(fields[name])
            for name in ("value_at_0", "value_at_max", "scale", "shift"):
                if name in fields:
                    known[name] = float(fields[name])
            if "max_code" in fields:
                known["max_code"] = int(fields["max_code"])
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"these fields do not describe a depth file ({e!r}); expected those of "
                             "DepthFacts.fields(), e.g. a sidecar written by sidecar_bytes") from e
        skip = {*_FIELD_NAMES, "Software", "arrays"}
        extra = tuple((str(k), str(v)) for k, v in fields.items() if k not in skip)
        return cls(**known, extra=extra)

    def fields(self) -> dict[str, str | int | float]:
        """The fields as written, in a fixed order; the ones that do not apply (None) are left out.

        ``source_size`` is written ``"WxH"``; numbers stay numbers (JSON), and become their
        ``repr`` in text chunks, which reads back to the same float.
        """
        out: dict[str, str | int | float] = {}
        for name in _FIELD_NAMES:
            value = getattr(self, name)
            if name == "source_size":
                value = f"{value[0]}x{value[1]}"
            if name == "extra" or value is None:
                continue
            out[name] = value
        out.update((key, str(value)) for key, value in self.extra)
        return out

    def text_fields(self) -> dict[str, str]:
        """:meth:`fields` as text (for PNG chunks and EXR headers), plus PNG's standard ``Software``."""
        return {**{key: _text(value) for key, value in self.fields().items()}, "Software": _SOFTWARE}


_FIELD_NAMES = ("content", "units", "near", "encoding", "value_at_0", "value_at_max", "max_code", "scale", "shift",
                "model", "weights_sha256", "network_size", "source_size", "app_version", "extra")

# What a stereo picture's layout and hole fill mean (keys: core.geometry.stereo.LAYOUTS and FILLS).
_LAYOUT_TEXT = {
    "sbs": "side by side for parallel viewing: the left view on the left",
    "cross": "side by side for cross-eyed viewing: the right view on the left",
    "tb": "top-bottom: the left view on top",
    "anaglyph": "red-cyan anaglyph (Dubois): red for the left eye, cyan for the right",
    "wiggle": "GIF, 256 colours on one palette, looping: the camera swings from the left view to the right and back",
    "orbit": "H.264 video (yuv420p): the camera goes once round a small circle, the left view, up, the right view, "
             "down",
}
_ANIMATIONS = ("wiggle", "orbit")  # layouts that are files of their own kind, not 8-bit RGB pictures
_FILL_TEXT = {
    "background": "background: a hole repeats the pixel on its far side",
    "telea": "telea: OpenCV inpainting, blending both sides",
}
_PICTURE_FIELDS = ("layout", "strength", "convergence", "hole_fill", "field_of_view", "baseline", "calibration",
                   "no_depth")


def _fov_text(fov: FieldOfView | float) -> str:
    """The ``field_of_view`` field: a :class:`FieldOfView`'s note (it says where it came from), or the degrees."""
    if isinstance(fov, FieldOfView):
        return fov.note
    if not is_real(fov) or not 0.0 < fov < 180.0:
        raise ValueError(f"fov must be a FieldOfView or a horizontal field of view in (0, 180) degrees, got {fov!r}")
    return f"{float(fov):.1f}° horizontal field of view"


def _without(extra: tuple[tuple[str, str], ...], *keys: str) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in extra if k not in keys)


def _text(value: str | int | float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def check_facts(facts: object, name: str = "facts", *, optional: bool = True) -> DepthFacts | None:
    """``facts`` if it is a :class:`DepthFacts` (or None, when ``optional``); else a TypeError saying what to pass."""
    if (facts is None and optional) or isinstance(facts, DepthFacts):
        return facts
    raise TypeError(f"{name} must be a core.io.metadata.DepthFacts (facts_for(...)){' or None' if optional else ''}, "
                    f"got {type(facts).__name__}")


def facts_for(info, width: int, height: int, model: str | None = None) -> DepthFacts:
    """The facts of a prediction by the predictor described by ``info``, of a ``width`` x ``height`` image.

    Args:
        info: a :class:`core.midas.predictor.PredictorInfo` (anything with ``sha256`` and ``size``).
        width: the source image's width in pixels.
        height: its height.
        model: the model's name; default :data:`core.midas.config.MIDAS_SMALL`'s.

    Returns:
        The facts of the raw relative inverse depth; call :meth:`DepthFacts.png16` and so on per file.
    """
    from core.midas.config import MIDAS_SMALL  # light: no torch

    sha, size = getattr(info, "sha256", None), getattr(info, "size", None)
    if not isinstance(sha, str) or not is_int(size):
        raise TypeError(f"info must have .sha256 (str) and .size (int) like a PredictorInfo, got {info!r}")
    return DepthFacts(model or MIDAS_SMALL.name, sha, int(size), (int(width), int(height)))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _text_chunk(key: str, value: str) -> bytes:
    if not 1 <= len(key) <= _KEYWORD_MAX or key != key.strip() or "  " in key:
        raise ValueError(f"a PNG text keyword must be 1-{_KEYWORD_MAX} characters, no outer or double spaces: {key!r}")
    try:
        name = key.encode("latin-1")
    except UnicodeEncodeError as e:
        raise ValueError(f"a PNG text keyword must be Latin-1, got {key!r}") from e
    try:
        return _chunk(b"tEXt", name + b"\0" + value.encode("latin-1"))
    except UnicodeEncodeError:  # iTXt: uncompressed UTF-8, no language tag
        return _chunk(b"iTXt", name + b"\0\0\0\0\0" + value.encode("utf-8"))


def png_with_text(png: bytes, fields: Mapping[str, object]) -> bytes:
    """The PNG with one text chunk per field, inserted right after its header (before the pixels).

    Values that are not Latin-1 go into ``iTXt`` (UTF-8) chunks, the rest into ``tEXt``. The
    pixels are not re-encoded.

    Args:
        png: a PNG file's contents.
        fields: keyword -> value (``str(value)`` is written; floats as their ``repr``).

    Returns:
        The new PNG file contents.
    """
    if not isinstance(png, (bytes, bytearray)) or not bytes(png[:8]) == _PNG_SIGNATURE or png[12:16] != b"IHDR":
        raise ValueError("png must be the bytes of a PNG file (signature, then IHDR)")
    end_of_header = 8 + 12 + struct.unpack(">I", png[8:12])[0]
    chunks = b"".join(_text_chunk(str(k), _text(v) if isinstance(v, float) else str(v)) for k, v in fields.items())
    return bytes(png[:end_of_header]) + chunks + bytes(png[end_of_header:])


def read_png_text(png: bytes) -> dict[str, str]:
    """The text chunks (``tEXt``, ``zTXt``, ``iTXt``) of a PNG, keyword -> text, in file order.

    Raises:
        ValueError: not a PNG, or a chunk runs past the end of the data.
    """
    data = bytes(png)
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG file: the 8-byte PNG signature is missing")
    out: dict[str, str] = {}
    pos = len(_PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I", data[pos:pos + 4])[0], data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length:
            raise ValueError(f"truncated PNG: the {kind!r} chunk at byte {pos} runs past the end of the file")
        if kind in (b"tEXt", b"zTXt", b"iTXt"):
            key, _, rest = body.partition(b"\0")
            if kind == b"tEXt":
                text = rest.decode("latin-1")
            elif kind == b"zTXt":
                text = zlib.decompress(rest[1:]).decode("latin-1")
            else:
                compressed, rest = rest[0], rest[2:]
                _, _, rest = rest.partition(b"\0")  # language tag
                _, _, rest = rest.partition(b"\0")  # translated keyword
                text = (zlib.decompress(rest) if compressed else rest).decode("utf-8")
            out[key.decode("latin-1")] = text
        if kind == b"IEND":
            break
        pos += 12 + length
    return out


def facts_text(fields: Mapping[str, object]) -> str:
    """Fields as ``name: value`` lines, for a file that holds one free text (a GIF's comment).

    Args:
        fields: e.g. :meth:`DepthFacts.text_fields`; values are written as in PNG text chunks.

    Returns:
        One line per field, joined by newlines; :func:`read_facts_text` reads them back.

    Raises:
        ValueError: a name that is empty or holds ``": "`` or a line break, or a value with one.

    Example:
        >>> facts_text({"content": "relative inverse depth", "network_size": 256})
        'content: relative inverse depth\\nnetwork_size: 256'
    """
    lines = []
    for key, value in fields.items():
        key, text = str(key), _text(value) if isinstance(value, float) else str(value)
        if not key or ": " in key or key != key.strip() or any(c in key + text for c in "\r\n"):
            raise ValueError(f"field {key!r} = {text!r} cannot be one 'name: value' line: no line breaks, and "
                             "no ': ' or outer spaces in the name")
        lines.append(f"{key}: {text}")
    return "\n".join(lines)


def read_facts_text(text: str | bytes) -> dict[str, str]:
    """The fields of :func:`facts_text` back, name -> value, in order; lines without ``": "`` are skipped.

    Args:
        text: the text, or its UTF-8 bytes (as Pillow gives a GIF's ``info["comment"]``).
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    out: dict[str, str] = {}
    for line in str(text).splitlines():
        key, sep, value = line.partition(": ")
        if sep and key:
            out[key] = value
    return out


def sidecar_name(file_name: str) -> str:
    """The sidecar of ``file_name``: the same name with ``.json`` added (``depth.npy`` -> ``depth.npy.json``)."""
    if not isinstance(file_name, str) or not file_name:
        raise ValueError(f"file_name must be a non-empty str, got {file_name!r}")
    return file_name + ".json"


def sidecar_bytes(facts: DepthFacts, **arrays: str) -> bytes:
    """The JSON sidecar of a ``.npy``, ``.npz`` or ``.pfm`` file: :meth:`DepthFacts.fields`, UTF-8.

    Args:
        facts: the file's facts (e.g. ``facts.raw("float32", depth.shape)``).
        **arrays: for an ``.npz``, what each member array holds, e.g.
            ``depth="float16 (frames, H, W) relative inverse depth"``; written under ``"arrays"``.

    Returns:
        The sidecar's contents, indented JSON ending in a newline.
    """
    if not isinstance(facts, DepthFacts):
        raise TypeError(f"facts must be a DepthFacts, got {type(facts).__name__}")
    record: dict[str, object] = dict(facts.fields())
    if arrays:
        record["arrays"] = {name: str(text) for name, text in arrays.items()}
    return (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def sidecar_facts(path: str | os.PathLike) -> DepthFacts | None:
    """The facts in the sidecar of the file at ``path`` (``path + ".json"``), or None when it has none.

    Raises:
        ValueError: the sidecar exists but does not describe a depth file.
    """
    side = Path(path).with_name(sidecar_name(Path(path).name))
    if not side.is_file():
        return None
    return DepthFacts.from_fields(read_sidecar(side.read_bytes()))


def read_sidecar(data: bytes | str) -> dict[str, object]:
    """Parse a sidecar written by :func:`sidecar_bytes`.

    Raises:
        ValueError: not a JSON object.
    """
    try:
        record = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"not a JSON sidecar: {e}") from e
    if not isinstance(record, dict):
        raise ValueError(f"a sidecar holds one JSON object, got {type(record).__name__}")
    return record
