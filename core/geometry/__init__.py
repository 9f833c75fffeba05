"""The camera and 3D: pinhole intrinsics (from EXIF or chosen), back-projection, point clouds and their
framing for a 3D view, meshes, and stereo views by depth-image-based rendering."""
