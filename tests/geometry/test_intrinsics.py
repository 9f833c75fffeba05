from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import ExifTags, Image

from core.geometry.intrinsics import DEFAULT_FOV_DEG, FieldOfView, fov_from_exif, resolve_fov


def exif_jpeg(width: int, height: int, orientation: int | None = None, **tags: float) -> bytes:
    """A small JPEG whose EXIF sub-IFD holds ``tags`` (names of PIL.ExifTags.Base)."""
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    for name, value in tags.items():
        sub[getattr(ExifTags.Base, name)] = value
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 150)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def hfov_35mm(f35: float, width: int, height: int) -> float:
    """The horizontal FOV a 35 mm equivalent focal length gives, through the diagonal (36x24 mm frame)."""
    diagonal_fov = 2 * math.atan(math.hypot(36, 24) / 2 / f35)
    return math.degrees(2 * math.atan(math.tan(diagonal_fov / 2) * width / math.hypot(width, height)))


def test_35mm_equivalent_on_a_3_2_photo_is_the_classic_angle() -> None:
    # on a 3:2 frame the horizontal FOV of f35 is 2 atan(18 / f35): 18 mm -> 90 degrees, 36 mm -> 53.13
    for f35, expected in ((18, 90.0), (36, math.degrees(2 * math.atan(0.5)))):
        fov = fov_from_exif(exif_jpeg(300, 200, FocalLengthIn35mmFilm=f35))
        assert fov.source == "exif"
        assert fov.degrees == pytest.approx(expected, abs=1e-9)
        assert "FocalLengthIn35mmFilm" in fov.note and f"{fov.degrees:.1f}°" in fov.note


@pytest.mark.parametrize("size", [(400, 300), (300, 400), (640, 360), (256, 256)])
def test_35mm_equivalent_follows_the_aspect_ratio(size: tuple[int, int]) -> None:
    fov = fov_from_exif(exif_jpeg(*size, FocalLengthIn35mmFilm=26))  # a typical phone main camera
    assert fov.degrees == pytest.approx(hfov_35mm(26, *size), abs=1e-9)


def test_orientation_turns_the_horizontal_field_of_view() -> None:
    landscape = fov_from_exif(exif_jpeg(400, 300, FocalLengthIn35mmFilm=26))
    turned = fov_from_exif(exif_jpeg(400, 300, orientation=6, FocalLengthIn35mmFilm=26))  # shown 300 wide
    assert turned.degrees == pytest.approx(hfov_35mm(26, 300, 400), abs=1e-9)
    assert turned.degrees < landscape.degrees


@pytest.mark.parametrize(
    "unit, per_unit",
    [(4, 250.0), (3, 2500.0), (2, 6350.0)],  # 250 px/mm given in mm, cm and inches
)
def test_focal_length_with_the_sensor_resolution(unit: int, per_unit: float) -> None:
    # 4 mm lens, 250 px/mm on the sensor -> f = 1000 px; 800 px wide -> 2 atan(400 / 1000)
    fov = fov_from_exif(exif_jpeg(800, 600, FocalLength=4.0, FocalPlaneXResolution=per_unit,
                                  FocalPlaneResolutionUnit=unit))
    assert fov.source == "exif"
    assert fov.degrees == pytest.approx(math.degrees(2 * math.atan(0.4)), abs=1e-6)


def test_focal_length_of_a_resized_file_is_scaled_by_pixel_x_dimension() -> None:
    # the EXIF says the sensor image was 1600 wide: this 800-wide file has half the focal length in pixels
    fov = fov_from_exif(exif_jpeg(800, 600, FocalLength=4.0, FocalPlaneXResolution=500.0,
                                  FocalPlaneResolutionUnit=4, ExifImageWidth=1600))
    assert fov.degrees == pytest.approx(math.degrees(2 * math.atan(0.4)), abs=1e-6)


@pytest.mark.parametrize(
    "tags, reason",
    [
        ({}, "no focal length"),
        ({"FocalLength": 4.2}, "not the sensor size"),
        ({"FocalLength": 0.0}, "0 or not a number"),
        ({"FocalLengthIn35mmFilm": 0}, "0 or not a number"),
        ({"FocalLengthIn35mmFilm": 1}, "outside the plausible"),  # 174 degrees
        ({"FocalLengthIn35mmFilm": 5000}, "outside the plausible"),  # 0.4 degrees
        ({"FocalLength": 4.0, "FocalPlaneXResolution": 0.01, "FocalPlaneResolutionUnit": 4}, "outside the plausible"),
    ],
)
def test_missing_or_absurd_tags_fall_back_with_the_reason(tags: dict, reason: str) -> None:
    fov = fov_from_exif(exif_jpeg(300, 200, **tags))
    assert fov.source == "default"
    assert fov.degrees == DEFAULT_FOV_DEG
    assert fov.note.startswith("60° horizontal field of view: the default (")
    assert reason in fov.note


def test_files_without_exif_fall_back() -> None:
    png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(png, "PNG")
    for data in (png.getvalue(), b"not an image", b""):
        fov = fov_from_exif(data)
        assert (fov.source, fov.degrees) == ("default", DEFAULT_FOV_DEG)
    assert fov_from_exif(b"", default_deg=70.0).degrees == 70.0
    with pytest.raises(TypeError, match="bytes"):
        fov_from_exif("photo.jpg")  # type: ignore[arg-type]


def test_overrides_win_over_the_photo() -> None:
    photo = fov_from_exif(exif_jpeg(300, 200, FocalLengthIn35mmFilm=18))
    assert resolve_fov(photo, 300) is photo
    by_degrees = resolve_fov(photo, 300, fov_deg=45)
    assert (by_degrees.degrees, by_degrees.source) == (45.0, "override")
    by_focal = resolve_fov(photo, 300, focal_px=150.0)  # half the width -> 90 degrees
    assert by_focal.degrees == pytest.approx(90.0) and "150 px" in by_focal.note
    with pytest.raises(ValueError, match="not both"):
        resolve_fov(photo, 300, fov_deg=45, focal_px=150.0)
    with pytest.raises(ValueError, match="fov_deg"):
        resolve_fov(photo, 300, fov_deg=180)
    with pytest.raises(ValueError, match="focal_px"):
        resolve_fov(photo, 300, focal_px=0.0)


def test_field_of_view_checks_itself() -> None:
    with pytest.raises(ValueError, match="source"):
        FieldOfView(60.0, "guess", "")
    with pytest.raises(ValueError, match="degrees"):
        FieldOfView(float(np.float32(200)), "exif", "")
