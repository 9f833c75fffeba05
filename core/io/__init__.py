"""Bytes in and out: decoding untrusted images; encoding exports (PNG, 16-bit PNG, JPEG, .npy, PLY, PFM, EXR,
meshes) and the facts each depth file states about itself (metadata.py, describe.py)."""
