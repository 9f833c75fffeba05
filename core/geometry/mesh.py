"""Meshes from relative inverse depth: a textured depth grid, and a printable relief.

:func:`build_mesh` triangulates an even pixel grid, back-projected through the pinhole
camera of :mod:`core.geometry.camera` (camera frame: x right, y DOWN, z forward). Two
triangles per grid cell; a triangle whose depths differ by more than the cut threshold
(relative to its nearest corner) spans a depth discontinuity and is dropped, so a person
in front of a wall does not become a tent. The face budget is met exactly by the grid's
step: a grid of gw x gh vertices has ``2 * (gw - 1) * (gh - 1)`` triangles before the cut.

:func:`build_relief` makes a closed solid in millimetres for a 3D printer: the map as a
height field (near = raised) on a flat base, with side walls and a bottom, watertight.

Exports are in :mod:`core.io.mesh_exports`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from core.checks import check_int, check_real
from core.geometry.camera import _check_fov, unproject
from core.maps.normalize import inverse_to_depth, normalize, sanitize

__all__ = [
    "DEFAULT_CUT",
    "MAX_FACES",
    "DepthMesh",
    "Relief",
    "build_mesh",
    "build_relief",
    "grid_for_faces",
]

#: Default cut threshold: a triangle whose far corner is more than 10% deeper than its near one is cut.
DEFAULT_CUT = 0.1

#: Largest face budget; a larger one is clamped, with a note.
MAX_FACES = 2_000_000

#: Longest side of the texture embedded in the mesh files (the photo is shrunk to it).
TEXTURE_MAX_SIDE = 2048


@dataclass(frozen=True, eq=False)
class DepthMesh:
    """A textured triangle mesh in the camera frame (x right, y down, z forward).

    Every vertex is used by a face. Faces are counter-clockwise seen from the camera, so
    their normals point back at it.

    Attributes:
        vertices: Nx3 float32 positions, finite.
        faces: Mx3 int32 vertex indices.
        uv: Nx2 float32 texture coordinates, (0, 0) at the texture's bottom-left (OpenGL).
        colors: Nx3 uint8 vertex colours (the photo at each vertex).
        texture: hxwx3 uint8 RGB, the photo shrunk to at most ``TEXTURE_MAX_SIDE``.
        grid: (gh, gw), the vertex grid before the cut.
        notes: sentences for the user (budget clamped, constant map, ...).
    """

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray
    colors: np.ndarray
    texture: np.ndarray
    grid: tuple[int, int]
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.vertices)
        for arr, name, dtype, cols in (
            (self.vertices, "vertices", np.float32, 3),
            (self.faces, "faces", np.int32, 3),
            (self.uv, "uv", np.float32, 2),
            (self.colors, "colors", np.uint8, 3),
        ):
            if not isinstance(arr, np.ndarray) or arr.dtype != dtype or arr.ndim != 2 or arr.shape[1] != cols:
                got = f"{getattr(arr, 'dtype', type(arr).__name__)} {getattr(arr, 'shape', '')}"
                raise TypeError(f"{name} must be an Nx{cols} {np.dtype(dtype)} array, got {got}")
        if not len(self.uv) == len(self.colors) == n:
            raise ValueError(f"uv and colors need one row per vertex ({n}), got {len(self.uv)} and {len(self.colors)}")
        if self.faces.size and (self.faces.min() < 0 or self.faces.max() >= n):
            raise ValueError(f"faces must index the {n} vertices")
        if not np.all(np.isfinite(self.vertices)):
            raise ValueError("vertices must be finite")
        if self.texture.dtype != np.uint8 or self.texture.ndim != 3 or self.texture.shape[2] != 3:
            raise TypeError(f"texture must be hxwx3 uint8, got {self.texture.dtype} {self.texture.shape}")

    @property
    def n_faces(self) -> int:
        return len(self.faces)


@dataclass(frozen=True, eq=False)
class Relief:
    """A closed (watertight) solid in millimetres: x right, y up (the image's top at the back), z up.

    Attributes:
        vertices: Nx3 float32 in mm, inside [0, width] x [0, depth] x [0, base + relief].
        faces: Mx3 int32, counter-clockwise seen from outside.
        size_mm: (width, depth, height) of the bounding box in mm.
        notes: sentences for the user.
    """

    vertices: np.ndarray
    faces: np.ndarray
    size_mm: tuple[float, float, float]
    notes: tuple[str, ...] = ()


def _check_map(inv_depth: np.ndarray) -> tuple[int, int]:
    if not isinstance(inv_depth, np.ndarray) or inv_depth.ndim != 2 or inv_depth.dtype.kind not in "fiu":
        got = f"{getattr(inv_depth, 'dtype', type(inv_depth).__name__)} {getattr(inv_depth, 'shape', '')}"
        raise ValueError(f"inv_depth must be a real HxW numpy.ndarray, got {got}")
    height, width = inv_depth.shape
    if height < 2 or width < 2:
        raise ValueError(
            f"a mesh needs a map of at least 2x2 pixels to make a triangle, got {height}x{width}: "
            "use a photo with at least two rows and two columns"
        )
    return height, width


def _axis(size: int, count: int) -> np.ndarray:
    """``count`` distinct, evenly spaced indices in [0, size), both ends included (count >= 2)."""
    return np.floor(np.linspace(0.0, size - 1.0, count) + 0.5).astype(np.intp)


def grid_for_faces(height: int, width: int, faces: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The densest even vertex grid whose ``2 * (gw - 1) * (gh - 1)`` triangles fit the budget.

    The grid reaches all four borders and keeps the image's aspect ratio as closely as whole
    cells allow. A budget above :data:`MAX_FACES`, or above what every pixel gives, is
    clamped, and a note says so.

    Args:
        height: image height in pixels, >= 2.
        width: image width in pixels, >= 2.
        faces: face budget, >= 2.

    Returns:
        (rows, cols, notes): increasing pixel indices of the grid's rows and columns, and the notes.

    Example:
        >>> rows, cols, notes = grid_for_faces(5, 5, 8)
        >>> rows.tolist(), cols.tolist(), notes
        ([0, 2, 4], [0, 2, 4], ())
    """
    height = check_int(height, "height", low=2)
    width = check_int(width, "width", low=2)
    faces = check_int(faces, "faces", low=2, hint=": a mesh needs at least one cell of two triangles")
    notes = []
    full = 2 * (height - 1) * (width - 1)
    if faces > full and full <= MAX_FACES:
        notes.append(f"face budget {faces:,} is more than the {full:,} triangles of every pixel: using every pixel")
    elif faces > MAX_FACES:
        notes.append(f"face budget {faces:,} clamped to the maximum of {MAX_FACES:,}")
    faces = min(faces, MAX_FACES)
    if faces >= full:
        return np.arange(height, dtype=np.intp), np.arange(width, dtype=np.intp), tuple(notes)
    cells = faces // 2
    a = math.sqrt(cells / ((height - 1) * (width - 1)))
    nh = min(height - 1, max(1, int(a * (height - 1))))
    nw = min(width - 1, max(1, int(a * (width - 1))))
    while nh * nw > cells:  # rounding can overshoot by a row or a column
        if nh >= nw and nh > 1:
            nh -= 1
        else:
            nw -= 1
    # grow whichever side keeps the aspect closest while the budget allows
    while True:
        grow_h = nh < height - 1 and (nh + 1) * nw <= cells
        grow_w = nw < width - 1 and nh * (nw + 1) <= cells
        if not (grow_h or grow_w):
            break
        if grow_h and (not grow_w or nh / (height - 1) <= nw / (width - 1)):
            nh += 1
        else:
            nw += 1
    return _axis(height, nh + 1), _axis(width, nw + 1), tuple(notes)


def _grid_faces(gh: int, gw: int) -> np.ndarray:
    """The 2 * (gh - 1) * (gw - 1) triangles of a gh x gw vertex grid, row-major vertex indices.

    Order (i, i + gw, i + 1) and (i + 1, i + gw, i + gw + 1): counter-clockwise seen from
    the camera in the camera frame (y down), and seen from above in a y-up, z-up frame.
    """
    i = (np.arange(gh - 1, dtype=np.int32)[:, None] * gw + np.arange(gw - 1, dtype=np.int32)[None, :]).ravel()
    first = np.stack([i, i + gw, i + 1], axis=1)
    second = np.stack([i + 1, i + gw, i + gw + 1], axis=1)
    return np.stack([first, second], axis=1).reshape(-1, 3)  # cell by cell: (2 * cells) x 3


def _positive_reference(values: np.ndarray) -> float:
    """The 99th percentile of the finite values if positive, else their maximum, else 1."""
    finite = values[np.isfinite(values)]
    if finite.size:
        for value in (float(np.percentile(finite, 99)), float(finite.max())):
            if value > 0:
                return value
    return 1.0


def build_mesh(
    inv_depth: np.ndarray,
    rgb: np.ndarray,
    *,
    fov_deg: float,
    faces: int = 200_000,
    cut: float | None = DEFAULT_CUT,
    scale: float = 1.0,
    shift: float = 0.1,
    reference: float | None = None,
) -> DepthMesh:
    """Triangulate the depth map on an even grid, textured with the photo.

    Depth is ``1 / (scale * inv_depth / reference + shift)``, as on the 3D Point Cloud page
    (unitless unless scale and shift were calibrated). Vertices whose depth is invalid (a
    non-positive denominator) drop their triangles; so does every triangle with
    ``(z_max - z_min) / z_min > cut``. Unused vertices are removed.

    Args:
        inv_depth: HxW relative inverse depth (larger = nearer), H, W >= 2.
        rgb: HxWx3 uint8 photo the depth was predicted from.
        fov_deg: horizontal field of view (see :mod:`core.geometry.intrinsics`).
        faces: face budget before the cut (see :func:`grid_for_faces`).
        cut: relative depth jump above which a triangle is dropped, > 0; None keeps them all.
        scale: positive scale of the normalised inverse depth.
        shift: added after scaling.
        reference: the value inverse depth is divided by; default its 99th percentile on the grid.

    Returns:
        The mesh; with no faces when no triangle survives (a note says why).

    Raises:
        ValueError: a map smaller than 2x2, a photo of another size, or a bad parameter.
    """
    height, width = _check_map(inv_depth)
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.shape != (height, width, 3):
        got = f"{getattr(rgb, 'dtype', type(rgb).__name__)} {getattr(rgb, 'shape', '')}"
        raise ValueError(f"rgb must be a {height}x{width}x3 uint8 array to match the depth map, got {got}")
    _check_fov(fov_deg)
    if cut is not None:
        cut = check_real(cut, "cut", low=1e-9, hint=": pass a relative jump such as 0.1, or None for no cut")
    rows, cols, notes = grid_for_faces(height, width, faces)
    notes = list(notes)
    samples = sanitize(inv_depth[np.ix_(rows, cols)])  # gh x gw float32, finite
    ref = _positive_reference(samples) if reference is None else check_real(reference, "reference", low=1e-30)
    z, valid = inverse_to_depth(samples, scale / ref, shift)  # gh x gw float32, bool
    if float(samples.max()) == float(samples.min()):
        notes.append("the depth map is constant: the mesh is a flat plane facing the camera")

    gh, gw = len(rows), len(cols)
    tri = _grid_faces(gh, gw)  # M x 3 into the grid
    zf, vf = z.ravel(), valid.ravel()
    keep = vf[tri].all(axis=1)
    if not keep.all():
        notes.append(f"{int((~keep).sum()):,} triangles dropped at invalid depth (raise the shift to keep them)")
    if cut is not None:
        zt = zf[tri]  # M x 3
        with np.errstate(divide="ignore", invalid="ignore"):
            jump = (zt.max(axis=1) - zt.min(axis=1)) / zt.min(axis=1)
        keep &= np.nan_to_num(jump, nan=np.inf) <= cut
    tri = tri[keep]
    if len(tri) == 0:
        notes.append("no triangle is left: raise the shift or the cut threshold")

    used = np.zeros(gh * gw, dtype=bool)
    used[tri.ravel()] = True
    remap = np.cumsum(used, dtype=np.int32) - 1
    idx = np.flatnonzero(used)  # kept grid vertices, row-major
    r_i, c_i = np.divmod(idx, gw)
    xyz = unproject(zf[idx], fov_deg, pixels=(cols[c_i], rows[r_i]), image_size=(height, width))  # Nx3 float32
    uv = np.stack([(cols[c_i] + 0.5) / width, 1.0 - (rows[r_i] + 0.5) / height], axis=1).astype(np.float32)
    colors = np.ascontiguousarray(rgb[rows[r_i], cols[c_i]])  # Nx3 uint8
    return DepthMesh(
        vertices=xyz,
        faces=remap[tri].astype(np.int32, copy=False),
        uv=uv,
        colors=colors,
        texture=_texture(rgb),
        grid=(gh, gw),
        notes=tuple(notes),
    )


def _texture(rgb: np.ndarray) -> np.ndarray:
    """The photo shrunk (INTER_AREA) so that its longest side is at most TEXTURE_MAX_SIDE."""
    height, width = rgb.shape[:2]
    factor = TEXTURE_MAX_SIDE / max(height, width)
    if factor >= 1.0:
        return rgb
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)  # hxwx3 uint8


def _ring(gh: int, gw: int) -> np.ndarray:
    """Border vertex indices of a gh x gw grid, counter-clockwise seen from above (row 0 at the back)."""
    last_row = (gh - 1) * gw + np.arange(gw)  # front edge, left to right
    right = np.arange(gh - 2, -1, -1) * gw + (gw - 1)  # right edge, front to back
    top = np.arange(gw - 2, -1, -1)  # back edge, right to left
    left = np.arange(1, gh - 1) * gw  # left edge, back to front
    return np.concatenate([last_row, right, top, left]).astype(np.int32)


def build_relief(
    inv_depth: np.ndarray,
    *,
    width_mm: float = 100.0,
    relief_mm: float = 5.0,
    base_mm: float = 2.0,
    faces: int = 200_000,
    clip_pct: tuple[float, float] = (1.0, 99.0),
) -> Relief:
    """A printable relief: near = raised, on a flat base, closed so that a slicer accepts it.

    The top is the map on an even grid (:func:`grid_for_faces`) at height
    ``base_mm + relief_mm * h``, where ``h`` is the inverse depth normalised to [0, 1]
    between its ``clip_pct`` percentiles on the grid (so the farthest points sit at
    ``base_mm`` and the nearest at exactly ``base_mm + relief_mm``). Side walls go down to
    z = 0 and a bottom fan closes it.

    Args:
        inv_depth: HxW relative inverse depth (larger = nearer), H, W >= 2.
        width_mm: size along x, > 0; the depth along y follows the image's aspect ratio.
        relief_mm: height of the relief above the base, > 0.
        base_mm: thickness of the base, > 0.
        faces: face budget of the top surface.
        clip_pct: (low, high) percentiles mapped to the base and to the top.

    Returns:
        The solid, with its bounding box size in mm.
    """
    height, width = _check_map(inv_depth)
    width_mm = check_real(width_mm, "width_mm", low=1e-3, hint=": pass the print's width in mm, e.g. 100")
    relief_mm = check_real(relief_mm, "relief_mm", low=1e-3, hint=": pass the relief height in mm, e.g. 5")
    base_mm = check_real(base_mm, "base_mm", low=1e-3, hint=": pass the base thickness in mm, e.g. 2")
    lo_pct, hi_pct = (check_real(p, "clip_pct", low=0.0, high=100.0) for p in clip_pct)
    if lo_pct >= hi_pct:
        raise ValueError(f"clip_pct must be (low, high) with low < high, got {clip_pct}")
    rows, cols, notes = grid_for_faces(height, width, faces)
    notes = list(notes)
    samples = sanitize(inv_depth[np.ix_(rows, cols)])  # gh x gw float32, finite
    lo, hi = np.percentile(samples, [lo_pct, hi_pct])
    if float(samples.max()) == float(samples.min()):
        notes.append("the depth map is constant: the relief is flat, the base alone")
        h = np.zeros_like(samples)
    else:
        h = normalize(samples, float(lo), float(hi))  # gh x gw in [0, 1], near = 1
    gh, gw = len(rows), len(cols)
    step = width_mm / (width - 1)  # mm per pixel
    depth_mm = step * (height - 1)
    top = np.empty((gh, gw, 3), dtype=np.float64)
    top[..., 0] = cols[None, :] * step
    top[..., 1] = (height - 1 - rows[:, None]) * step
    top[..., 2] = base_mm + relief_mm * h.astype(np.float64)
    top = top.reshape(-1, 3)

    ring = _ring(gh, gw)  # R border vertices of the top
    n_top, n_ring = gh * gw, len(ring)
    bottom = top[ring].copy()
    bottom[:, 2] = 0.0
    centre = np.array([[width_mm / 2.0, depth_mm / 2.0, 0.0]])
    vertices = np.concatenate([top, bottom, centre]).astype(np.float32)

    a = ring
    b = np.roll(ring, -1)
    ba = n_top + np.arange(n_ring, dtype=np.int32)
    bb = np.roll(ba, -1)
    walls = np.concatenate([np.stack([a, ba, bb], axis=1), np.stack([a, bb, b], axis=1)])
    c = np.full(n_ring, n_top + n_ring, dtype=np.int32)
    floor = np.stack([c, bb, ba], axis=1)
    tri = np.concatenate([_grid_faces(gh, gw), walls, floor]).astype(np.int32)
    return Relief(
        vertices=vertices,
        faces=tri,
        size_mm=(width_mm, depth_mm, base_mm + relief_mm),
        notes=tuple(notes),
    )
