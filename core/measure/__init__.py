"""From relative to metric: scale-and-shift alignment, calibration from known distances, metric maps, ground-truth metrics."""
