"""What the teaching pages show, as plain functions: pipeline stages, pitfalls, scale and shift, calibration examples, ground-truth reports, timing, the network's anatomy and receptive field."""
