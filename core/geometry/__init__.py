"""The camera: pinhole intrinsics, back-projection, point clouds and their framing for a 3D view."""
