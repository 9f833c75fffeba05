"""Benchmarks: they print tables and assert nothing. ``python -m bench`` runs :mod:`bench.run`."""
