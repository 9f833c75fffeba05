"""Bytes in and out: decoding untrusted images, and encoding exports (PNG, 16-bit PNG, JPEG, .npy, PLY)."""
