"""A small photo collection for the batch tests: 40 inputs, 3 of them bad and 2 of odd sizes.

Small images (64-160 px) keep the runs short on 2 cores: the network input is 256 px wide
whatever the image, so inference costs the same, and decoding and writing cost little.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

#: The bad inputs and the start of the reason the results table must give for each.
BAD = {
    "bad_empty.png": "The file is empty",
    "bad_text.jpg": "Unsupported format",
    "bad_truncated.jpg": "The file is truncated or corrupt",
}
ODD = {"odd0.png": (97, 61), "odd1.png": (151, 113)}
GOOD = 35
TIMING_COLUMNS = ("decode_s", "inference_s", "write_s", "total_s")


def make_collection(folder: Path) -> list[Path]:
    """Write the 40 inputs into ``folder`` and return their paths, sorted by name."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(16)
    sizes = [(128, 96), (96, 128), (160, 120), (64, 64)]
    for i in range(GOOD):
        w, h = sizes[i % len(sizes)]
        yy, xx = np.mgrid[0:h, 0:w]
        rgb = np.stack([xx * 255 // w, yy * 255 // h, rng.integers(0, 255, (h, w))], -1).astype(np.uint8)
        Image.fromarray(rgb).save(folder / (f"img{i:02d}.jpg" if i % 2 else f"img{i:02d}.png"), quality=90)
    for name, (w, h) in ODD.items():
        Image.fromarray(rng.integers(0, 255, (h, w, 3)).astype(np.uint8)).save(folder / name)
    (folder / "bad_empty.png").write_bytes(b"")
    (folder / "bad_text.jpg").write_bytes(b"this is a text file, not a photo\n")
    jpeg = (folder / "img01.jpg").read_bytes()
    (folder / "bad_truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    return sorted(folder.iterdir())


def output_files(folder: Path) -> dict[str, bytes]:
    """Every file in ``folder`` but the results table: name -> bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())
            if p.is_file() and not p.name.startswith("batch_results")}


def comparable(rows: list[dict]) -> list[dict]:
    """Rows without what differs between runs: timings, and the output folder in ``outputs``."""
    return [{**{k: v for k, v in r.items() if k not in TIMING_COLUMNS},
             "outputs": [os.path.basename(p) for p in r["outputs"]]} for r in rows]
