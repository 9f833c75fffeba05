"""Depth maps as arrays: sanitising, normalising, statistics and histograms, colormaps, display maps and probes."""
