from __future__ import annotations

import numpy as np
import pytest
import trimesh

from core.geometry.mesh import DEFAULT_CUT, MAX_FACES, build_mesh, build_relief, grid_for_faces

PLANE, BOX = 0.5, 1.0  # relative inverse depth: the box is nearer
BOX_ROWS, BOX_COLS = slice(20, 40), slice(30, 50)


def scene(height: int = 60, width: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """A plane with a box in front of it: known inverse depth, and a photo that marks the box in red."""
    inv = np.full((height, width), PLANE, np.float32)
    inv[BOX_ROWS, BOX_COLS] = BOX
    rgb = np.full((height, width, 3), 40, np.uint8)
    rgb[BOX_ROWS, BOX_COLS] = (255, 0, 0)
    return inv, rgb


def box_vertex(mesh) -> np.ndarray:
    """Which vertices lie on the box, by their colour (the photo marks it)."""
    return mesh.colors[:, 0] == 255


def test_no_triangle_spans_the_box_edge_at_the_default_cut() -> None:
    inv, rgb = scene()
    mesh = build_mesh(inv, rgb, fov_deg=60.0, faces=10_000)  # every pixel: 2 * 59 * 79 faces
    on_box = box_vertex(mesh)[mesh.faces]  # M x 3
    assert mesh.n_faces > 0
    assert not np.any(on_box.any(axis=1) & ~on_box.all(axis=1))  # no mixed triangle
    assert on_box.all(axis=1).sum() == 2 * 19 * 19  # the box's own cells stay
    uncut = build_mesh(inv, rgb, fov_deg=60.0, faces=10_000, cut=None)
    mixed = box_vertex(uncut)[uncut.faces]
    assert uncut.n_faces == 2 * 59 * 79
    n_mixed = np.count_nonzero(mixed.any(axis=1) & ~mixed.all(axis=1))
    assert n_mixed == uncut.n_faces - mesh.n_faces > 0


def test_a_slanted_plane_is_not_cut() -> None:
    rows = np.linspace(0.4, 0.6, 90, dtype=np.float32)[:, None]
    inv = np.repeat(rows, 120, axis=1)  # a floor-like gradient, no discontinuity
    mesh = build_mesh(inv, np.zeros((90, 120, 3), np.uint8), fov_deg=60.0, faces=10**6)
    assert mesh.n_faces == 2 * 89 * 119 and not mesh.notes[1:]


def test_vertices_back_project_through_the_camera() -> None:
    inv, rgb = scene()
    mesh = build_mesh(inv, rgb, fov_deg=90.0, faces=10_000, scale=1.0, shift=0.1)
    z_plane, z_box = 1 / (PLANE / BOX + 0.1), 1 / (1.0 + 0.1)  # reference = the 99th percentile = BOX
    z = mesh.vertices[:, 2]
    np.testing.assert_allclose(z[box_vertex(mesh)], z_box, rtol=1e-6)
    np.testing.assert_allclose(z[~box_vertex(mesh)], z_plane, rtol=1e-6)
    # the pixel-centre uv gives the column: x = (u - cx) / fx * z with fx = W / 2 at 90 degrees
    cols = mesh.uv[:, 0] * 80 - 0.5
    np.testing.assert_allclose(mesh.vertices[:, 0], (cols - 39.5) / 40.0 * z, rtol=1e-4, atol=1e-5)


def test_faces_point_back_at_the_camera_and_every_vertex_is_used() -> None:
    inv, rgb = scene()
    mesh = build_mesh(inv, rgb, fov_deg=60.0, faces=2_000)
    normals = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).face_normals
    assert np.all(normals[:, 2] < 0)  # towards the camera at the origin, which looks down +z
    assert np.array_equal(np.unique(mesh.faces), np.arange(len(mesh.vertices)))


@pytest.mark.parametrize("size", [(2, 2), (3, 1000), (480, 640), (3000, 4000), (4000, 3000)])
@pytest.mark.parametrize("budget", [2, 7, 1_000, 200_000])
def test_grid_meets_the_face_budget(size: tuple[int, int], budget: int) -> None:
    rows, cols, _ = grid_for_faces(*size, budget)
    faces = 2 * (len(rows) - 1) * (len(cols) - 1)
    full = 2 * (size[0] - 1) * (size[1] - 1)
    assert faces <= min(budget, full)
    assert rows[0] == 0 and rows[-1] == size[0] - 1 and cols[0] == 0 and cols[-1] == size[1] - 1
    assert np.all(np.diff(rows) > 0) and np.all(np.diff(cols) > 0)
    if budget >= 1_000 and full >= budget:
        assert faces >= 0.9 * budget  # the densest grid: no more than a row or column short


def test_mesh_has_the_budgeted_faces_on_a_flat_map() -> None:
    inv = np.full((300, 400), 0.3, np.float32)
    mesh = build_mesh(inv, np.zeros((300, 400, 3), np.uint8), fov_deg=60.0, faces=20_000)
    assert 0.9 * 20_000 <= mesh.n_faces <= 20_000
    assert mesh.grid[0] * mesh.grid[1] == len(mesh.vertices)


def test_huge_budgets_are_clamped_with_a_message() -> None:
    _, _, notes = grid_for_faces(3000, 4000, 10**9)
    assert notes == (f"face budget 1,000,000,000 clamped to the maximum of {MAX_FACES:,}",)
    inv, rgb = scene()
    mesh = build_mesh(inv, rgb, fov_deg=60.0, faces=10**9)
    assert mesh.grid == (60, 80)
    assert "more than the 9,322 triangles of every pixel" in mesh.notes[0]
    with pytest.raises(ValueError, match="faces"):
        grid_for_faces(10, 10, 1)


@pytest.mark.parametrize("shape", [(1, 50), (50, 1), (1, 1)])
def test_a_map_of_one_row_or_column_is_refused_with_what_to_do(shape: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="at least 2x2"):
        build_mesh(np.ones(shape, np.float32), np.zeros((*shape, 3), np.uint8), fov_deg=60.0)
    with pytest.raises(ValueError, match="at least 2x2"):
        build_relief(np.ones(shape, np.float32))


@pytest.mark.parametrize("value", [0.0, 0.7, 3.0])
def test_a_constant_map_gives_a_flat_mesh_and_a_note(value: float) -> None:
    inv = np.full((40, 50), value, np.float32)
    with np.errstate(all="raise"):  # no division by zero anywhere
        mesh = build_mesh(inv, np.zeros((40, 50, 3), np.uint8), fov_deg=60.0, faces=1_000)
    assert any("constant" in note for note in mesh.notes)
    assert mesh.n_faces > 0 and np.all(np.isfinite(mesh.vertices))
    assert np.ptp(mesh.vertices[:, 2]) == 0.0


def test_non_finite_depth_drops_its_triangles() -> None:
    inv, rgb = scene()
    inv[0, 0] = np.nan
    inv[5, 5] = -1e9  # a negative denominator: depth invalid
    mesh = build_mesh(inv, rgb, fov_deg=60.0, faces=10_000, cut=None)
    assert np.all(np.isfinite(mesh.vertices))
    assert mesh.n_faces < 2 * 59 * 79
    assert any("invalid depth" in note for note in mesh.notes)


def test_bad_arguments_are_named() -> None:
    inv, rgb = scene()
    with pytest.raises(ValueError, match="rgb"):
        build_mesh(inv, rgb[:-1], fov_deg=60.0)
    with pytest.raises(ValueError, match="fov_deg"):
        build_mesh(inv, rgb, fov_deg=0.0)
    with pytest.raises(ValueError, match="cut"):
        build_mesh(inv, rgb, fov_deg=60.0, cut=0.0)
    assert DEFAULT_CUT == 0.1


# ---------------------------------------------------------------- the printable relief


@pytest.mark.parametrize("width_mm, relief_mm, base_mm", [(100.0, 5.0, 2.0), (37.5, 12.0, 0.6)])
@pytest.mark.parametrize("budget", [500, 50_000])
def test_relief_is_watertight_with_the_requested_size(width_mm: float, relief_mm: float, base_mm: float,
                                                      budget: int) -> None:
    inv, _ = scene()
    relief = build_relief(inv, width_mm=width_mm, relief_mm=relief_mm, base_mm=base_mm, faces=budget)
    solid = trimesh.Trimesh(relief.vertices, relief.faces, process=False)
    assert solid.is_watertight and solid.is_winding_consistent and solid.volume > 0
    expected = np.array([width_mm, width_mm * 59 / 79, base_mm + relief_mm])
    np.testing.assert_allclose(solid.extents, expected, atol=0.1)
    np.testing.assert_allclose(relief.size_mm, expected, atol=1e-9)
    np.testing.assert_allclose(solid.bounds[0], 0.0, atol=1e-6)


def test_relief_raises_what_is_near() -> None:
    inv, rgb = scene()
    relief = build_relief(inv, width_mm=79.0, relief_mm=5.0, base_mm=2.0, faces=10**6)  # 1 mm per pixel
    top = relief.vertices[: 60 * 80].reshape(60, 80, 3)
    np.testing.assert_allclose(top[BOX_ROWS, BOX_COLS, 2], 7.0, atol=1e-5)  # the box: base + relief
    np.testing.assert_allclose(top[:10, :, 2], 2.0, atol=1e-5)  # the plane: the base


def test_constant_relief_is_flat_and_closed() -> None:
    relief = build_relief(np.full((30, 30), 0.4, np.float32), relief_mm=5.0, base_mm=2.0)
    solid = trimesh.Trimesh(relief.vertices, relief.faces, process=False)
    assert solid.is_watertight and solid.extents[2] == pytest.approx(2.0)
    assert any("constant" in note for note in relief.notes)


@pytest.mark.parametrize("kwargs", [{"width_mm": 0.0}, {"relief_mm": -1.0}, {"base_mm": 0.0},
                                    {"clip_pct": (50.0, 50.0)}])
def test_relief_rejects_bad_sizes(kwargs: dict) -> None:
    inv, _ = scene()
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        build_relief(inv, **kwargs)
