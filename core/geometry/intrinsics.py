"""Where the camera's horizontal field of view comes from: the photo's EXIF, the user, or the default.

Every 3D feature (point cloud, mesh, stereo views, the Calibrate page's measuring tool) takes
its intrinsics from one :class:`FieldOfView`, turned into pixels by
:func:`core.geometry.camera.pinhole_intrinsics`. The order is:

1. an override by the user, as an FOV in degrees or a focal length in pixels
   (:func:`resolve_fov`);
2. the photo's EXIF (:func:`fov_from_exif`): ``FocalLengthIn35mmFilm``, or ``FocalLength``
   with the sensor's pixel pitch (``FocalPlaneXResolution`` and its unit);
3. the :data:`DEFAULT_FOV_DEG` default.

Each result carries a ``note`` that says which, so the page and the CLI can tell the user.

The 35 mm equivalent focal length is defined on the frame's diagonal (43.27 mm for 36x24 mm),
so it is converted through the image's diagonal in pixels: that is right for any aspect ratio
and orientation. Sizes are those of the image as shown, after its EXIF orientation; a JPEG
decoded at reduced scale keeps its field of view.
"""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass

from PIL import ExifTags, Image, UnidentifiedImageError

from core.checks import check_real
from core.geometry.camera import fov_from_focal_px

__all__ = ["DEFAULT_FOV_DEG", "FOV_RANGE", "FieldOfView", "fov_from_exif", "resolve_fov"]

#: The field of view assumed when neither the user nor the photo says otherwise (degrees, horizontal).
DEFAULT_FOV_DEG = 60.0

#: Horizontal fields of view (degrees) taken from EXIF as plausible; outside it the tag is called absurd.
FOV_RANGE = (10.0, 150.0)

_DIAGONAL_35MM = math.hypot(36.0, 24.0)  # mm, the 35 mm frame's diagonal
_ORIENTATION = 0x0112
_SWAPPING = {5, 6, 7, 8}  # EXIF orientations that turn the image by 90 degrees
_MM_PER_UNIT = {2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}  # FocalPlaneResolutionUnit: inch, cm, mm, um
_SOURCES = ("exif", "default", "override")


@dataclass(frozen=True)
class FieldOfView:
    """A horizontal field of view and where it came from.

    Attributes:
        degrees: horizontal field of view, in (0, 180).
        source: ``"exif"``, ``"default"`` or ``"override"``.
        note: one sentence for the user, e.g. ``"60° horizontal field of view: the default
            (the photo has no focal length in its EXIF)"``.
    """

    degrees: float
    source: str
    note: str

    def __post_init__(self) -> None:
        check_real(self.degrees, "degrees", low=1e-6, high=180.0 - 1e-6)
        if self.source not in _SOURCES:
            raise ValueError(f"source must be one of {_SOURCES}, got {self.source!r}")


def _default(reason: str, default_deg: float) -> FieldOfView:
    return FieldOfView(default_deg, "default", f"{default_deg:g}° horizontal field of view: the default ({reason})")


def _number(value: object) -> float | None:
    """A finite float from an EXIF rational or number, None when it is not one."""
    try:
        number = float(value)  # IFDRational, int, float; a zero-denominator rational gives nan
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def _plausible(fov: float, tag: str, default_deg: float) -> FieldOfView:
    low, high = FOV_RANGE
    if not low <= fov <= high:
        return _default(f"the EXIF {tag} gives {fov:.1f}°, outside the plausible {low:g}–{high:g}°", default_deg)
    return FieldOfView(fov, "exif", f"{fov:.1f}° horizontal field of view, from the photo's EXIF {tag}")


def fov_from_exif(data: bytes, *, default_deg: float = DEFAULT_FOV_DEG) -> FieldOfView:
    """The horizontal field of view the photo's EXIF gives, or the default with the reason.

    Reads the header only (no pixels are decoded). ``FocalLengthIn35mmFilm`` wins; else
    ``FocalLength`` with ``FocalPlaneXResolution`` (pixels per unit of the sensor, with
    ``FocalPlaneResolutionUnit``, scaled by ``PixelXDimension`` when the file was resized).
    A missing, zero, non-numeric or absurd tag (a field of view outside :data:`FOV_RANGE`)
    gives ``default_deg`` and a note that says why; so does a file Pillow cannot read.

    Args:
        data: the encoded image file (JPEG, TIFF, WebP, PNG with an eXIf chunk...).
        default_deg: the field of view to fall back to, in (0, 180).

    Returns:
        The field of view, with ``source`` ``"exif"`` or ``"default"``.

    Example:
        >>> fov_from_exif(b"not an image").note
        '60° horizontal field of view: the default (the file has no readable EXIF)'
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be the image file's bytes, got {type(data).__name__}")
    default_deg = check_real(default_deg, "default_deg", low=1e-6, high=180.0 - 1e-6)
    try:
        with Image.open(io.BytesIO(bytes(data))) as im:
            stored_w, stored_h = im.size
            exif = im.getexif()
            sub = exif.get_ifd(ExifTags.IFD.Exif)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, struct.error):
        return _default("the file has no readable EXIF", default_deg)
    swapped = exif.get(_ORIENTATION, 1) in _SWAPPING
    width, height = (stored_h, stored_w) if swapped else (stored_w, stored_h)

    tags = ExifTags.Base
    f35 = _number(sub.get(tags.FocalLengthIn35mmFilm))
    if f35 is not None and f35 > 0:
        # 35 mm equivalent: the image diagonal spans the 43.27 mm diagonal of a 36x24 frame
        focal_px = f35 / _DIAGONAL_35MM * math.hypot(width, height)
        return _plausible(fov_from_focal_px(width, focal_px), f"FocalLengthIn35mmFilm ({f35:g} mm)", default_deg)

    focal_mm = _number(sub.get(tags.FocalLength))
    if focal_mm is None or focal_mm <= 0:
        if f35 is not None or focal_mm is not None:
            return _default("the EXIF focal length is 0 or not a number", default_deg)
        return _default("the photo has no focal length in its EXIF", default_deg)
    per_unit = _number(sub.get(tags.FocalPlaneXResolution))
    unit_mm = _MM_PER_UNIT.get(sub.get(tags.FocalPlaneResolutionUnit, 2))
    if per_unit is None or per_unit <= 0 or unit_mm is None:
        return _default(f"the EXIF has FocalLength {focal_mm:g} mm but not the sensor size", default_deg)
    px_per_mm = per_unit / unit_mm  # sensor pixels (of PixelXDimension) per mm
    exif_width = _number(sub.get(tags.ExifImageWidth))
    resize = stored_w / exif_width if exif_width and exif_width > 0 else 1.0
    focal_px = focal_mm * px_per_mm * resize  # in the stored image's pixels, square pixels assumed
    return _plausible(
        fov_from_focal_px(width, focal_px), f"FocalLength ({focal_mm:g} mm) and sensor resolution", default_deg
    )


def resolve_fov(
    photo: FieldOfView, width: int, *, fov_deg: float | None = None, focal_px: float | None = None
) -> FieldOfView:
    """The field of view to use: the user's override if any, else the photo's.

    Args:
        photo: what :func:`fov_from_exif` found (or the default).
        width: the image width in pixels, to turn ``focal_px`` into degrees.
        fov_deg: an override in degrees, in (0, 180).
        focal_px: an override as a focal length in pixels (of this ``width``), > 0.

    Returns:
        ``photo`` unchanged without an override; else a ``source="override"`` field of view.

    Raises:
        ValueError: both overrides given, or one out of range.

    Example:
        >>> resolve_fov(fov_from_exif(b""), 640, focal_px=320.0).degrees
        90.0
    """
    if not isinstance(photo, FieldOfView):
        raise TypeError(f"photo must be a FieldOfView, got {type(photo).__name__}")
    if fov_deg is not None and focal_px is not None:
        raise ValueError("give fov_deg or focal_px, not both")
    if fov_deg is not None:
        degrees = check_real(fov_deg, "fov_deg", low=1e-6, high=180.0 - 1e-6, hint=": pass e.g. 60")
        return FieldOfView(degrees, "override", f"{degrees:g}° horizontal field of view, set by you")
    if focal_px is not None:
        focal = check_real(focal_px, "focal_px", low=1e-6, hint=": pass a focal length in pixels, e.g. 1000")
        degrees = fov_from_focal_px(width, focal)
        return FieldOfView(
            degrees, "override", f"{degrees:.1f}° horizontal field of view, from your focal length of {focal:g} px"
        )
    return photo
