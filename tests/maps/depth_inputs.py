"""Depth maps shared by the tests of core.maps.normalize and core.maps.stats."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

DTYPES = [np.float16, np.float32, np.float64, np.int32, np.uint16]
SIZES = [(1, 1), (1, 7), (5, 1), (3, 4), (64, 48)]
SMALL = np.array([[0.0, 2.0], [4.0, 8.0]])


def random_map(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


# ---------------------------------------------------------------- hypothesis inputs


def any_floats() -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6),
        elements=st.floats(width=32, allow_nan=True, allow_infinity=True),
    )


@st.composite
def constant_map(draw: st.DrawFn) -> np.ndarray:
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6))
    return np.full(shape, draw(st.floats(width=32, allow_nan=False, allow_infinity=False)), np.float32)


@st.composite
def tiny_range(draw: st.DrawFn) -> np.ndarray:
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6))
    base = draw(st.sampled_from([0.0, 1.0, -3.5, 1e6]))
    step = draw(st.sampled_from([1e-30, 1e-38, 1e-45, 1e-7]))
    k = draw(hnp.arrays(np.int8, shape, elements=st.integers(0, 3)))
    return (np.float32(base) + k.astype(np.float32) * np.float32(step)).astype(np.float32)


DEPTHS = st.one_of(any_floats(), constant_map(), tiny_range())
