"""The app's pages, in one place: the router's menu and the Home page's links both read it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HOME", "PAGES", "PageEntry"]


@dataclass(frozen=True)
class PageEntry:
    """One page: its script in ``app_pages/``, its menu title and icon, and a line about it for Home."""

    script: str
    title: str
    icon: str
    about: str

    @property
    def path(self) -> str:
        return f"app_pages/{self.script}"


HOME = PageEntry("home.py", "Home", ":material/home:", "what the app does and where to start")

#: Menu section -> its pages, in menu order ("" is the untitled top section).
PAGES: dict[str, list[PageEntry]] = {
    "": [HOME],
    "Explore": [
        PageEntry("explorer.py", "Depth Explorer", ":material/search:", "heatmap, histogram, pixel probe, downloads"),
        PageEntry("point_cloud.py", "3D Point Cloud", ":material/view_in_ar:",
                  "the photo back-projected through a pinhole camera"),
        PageEntry("mesh.py", "3D Mesh", ":material/deployed_code:",
                  "a textured mesh cut at depth jumps, as GLB, OBJ, PLY or a printable STL"),
        PageEntry("stereo.py", "Stereo and 3D Photo", ":material/3d_rotation:",
                  "stereo pairs, a red-cyan anaglyph, a wiggle GIF and an orbit video"),
        PageEntry("colormap_lab.py", "Colormap Lab", ":material/palette:",
                  "the same map in nine colormaps, and their pitfalls"),
        PageEntry("video.py", "Video", ":material/movie:",
                  "a clip to depth videos that do not flicker, frame by frame"),
        PageEntry("live_camera.py", "Live Camera", ":material/videocam:",
                  "your camera in, depth out in real time, with fps and latency"),
    ],
    "Teach and measure": [
        PageEntry("how_it_works.py", "How It Works", ":material/school:",
                  "every stage of the pipeline, with the code that makes it"),
        PageEntry("inside_network.py", "Inside the Network", ":material/account_tree:",
                  "the network's blocks, activations and receptive field on your photo"),
        PageEntry("scale_shift.py", "Scale and Shift", ":material/straighten:",
                  "why the output is only relative, shown on your photo"),
        PageEntry("pitfalls.py", "Pitfalls, Live", ":material/report:", "the common mistakes, made on purpose"),
        PageEntry("calibrate.py", "Calibrate to Metres", ":material/square_foot:",
                  "known distances turn the map into metres"),
        PageEntry("evaluate.py", "Evaluate vs Ground Truth", ":material/fact_check:",
                  "AbsRel, δ and RMSE against a measured depth map"),
        PageEntry("performance_lab.py", "Performance Lab", ":material/speed:", "where the time goes on this CPU"),
    ],
}
