"""Depth that does not flicker: align each frame to a running reference, show it in a fixed window.

MiDaS predicts relative inverse depth up to an unknown scale and shift, and that scale and
shift change from frame to frame. Per-frame min-max normalisation (the peers' default) hides
the change but makes the picture pump: when a near, bright object enters, the frame's maximum
jumps and the whole static background turns darker. Stable mode instead

1. aligns each frame by scale and shift to a running reference (:class:`Aligner`): trimmed
   least squares on a fixed, seeded sample of pixels, so a moving object does not bias the fit;
2. maps the aligned frames through one display window: fixed over a clip
   (:func:`clip_window`) or following slowly in live mode (:class:`EmaWindow`);
3. measures what a viewer sees (:func:`flicker`): the mean change of the normalised map
   between consecutive frames, over the pixels whose colour did not change.

Example:
    >>> aligner = Aligner("stable")
    >>> aligned = [aligner.align(d) for d in depths]          # doctest: +SKIP
    >>> window = clip_window(aligned)                         # doctest: +SKIP
    >>> frames = [normalized(a, "stable", window) for a in aligned]  # doctest: +SKIP
"""

from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

from core.checks import check_int, check_real
from core.maps.normalize import _as_float32, normalize
from core.maps.stats import PERCENTILE_BINS, DepthHistogram, histogram
from core.measure.alignment import AlignmentError, ScaleShift, fit_scale_shift

__all__ = ["MODES", "Aligner", "EmaWindow", "clip_window", "flicker", "normalized"]

#: "stable": aligned to a running reference, one display window; "per-frame": each frame min-max.
MODES = ("stable", "per-frame")

#: Weight of each new aligned frame in the running reference, at the pixels the fit kept (a
#: time constant of about 10 frames). Pixels the fit trimmed are left out of the blend.
REFERENCE_BLEND = 0.1

#: A pixel the fit trimmed this many frames in a row is taken over from the new frame, so that
#: the place an object left (it was in the first frame) or an object that came to rest joins
#: the reference within a few frames. On synthetic clips (objects of 6 to 17% of the frame,
#: moving 1 to 4 pixels a frame, in the first frame or not), 3 left the fewest badly fitted
#: frames: 9%, against 11 to 15% for 2, 4 or 6 and 16% with no take-over.
ADOPT_AFTER = 3

#: A fit whose kept samples' RMS residual exceeds this share of the reference's spread (more
#: of the picture moved than ``trim`` drops) is applied, but the frame does not enter the
#: reference: a poor fit blended in would bend the reference and spoil the next fits too.
GOOD_FIT = 0.1

#: Largest RGB change, in 8-bit levels in every channel, of a pixel that counts as static for
#: :func:`flicker`: above H.264's noise on a still scene at the usual quality (a few levels),
#: below the change an edge of a moving object makes.
MOTION_THRESHOLD = 8.0

# Most trim-and-refit rounds from each start. Each round keeps the samples with the smallest
# residuals under the current fit (a "C-step" of least trimmed squares), which can only lower
# the trimmed sum of squares, so the kept set settles; the loop stops when it no longer
# changes. It can settle in a wrong fit, though: from the plain least-squares fit, pulled
# towards a flat line by a near object, the kept set drops the scene's extremes instead of
# the object (a scale 80% too small was seen). So the rounds run from three starts (plain
# least squares, the median slope over random pairs, the previous frame's fit) and the fit
# with the smallest trimmed sum of squares wins.
_MAX_REFITS = 20

# Random pairs of sampled pixels behind the median-slope start.
_PAIRS = 2048


def _check_mode(mode: object) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    return str(mode)


def _check_percentiles(percentiles: Sequence[float]) -> tuple[float, float]:
    qs = tuple(percentiles)
    if len(qs) != 2 or not all(isinstance(q, (int, float, np.integer, np.floating)) for q in qs):
        raise ValueError(f"percentiles must be a pair (low, high) of numbers, got {percentiles!r}.")
    lo, hi = float(qs[0]), float(qs[1])
    if not 0.0 <= lo <= hi <= 100.0:
        raise ValueError(f"percentiles must satisfy 0 <= low <= high <= 100, got {percentiles!r}.")
    return lo, hi


class Aligner:
    """Aligns the frames of one clip to a running reference by scale and shift.

    The first frame is the reference and comes back unchanged, so the aligned frames are in
    the first frame's units. Each later frame gets the ``(scale, shift)`` that maps it onto the
    reference in the least-squares sense, fitted on a fixed random sample of ``sample`` pixels
    (seeded: the same clip always gives the same result) with
    :func:`core.measure.alignment.fit_scale_shift`, robustly: fit, drop the ``trim`` share of
    samples with the largest residuals (moving objects), refit until the kept samples settle.
    The loop runs from three starts (plain least squares, a median slope over random pairs of
    samples, the previous frame's fit) and keeps the fit with the smallest trimmed error: from
    plain least squares alone, a big near object can pull it into a wrong, flat fit.

    The running reference is an exponential blend of the aligned frames, kept at the sampled
    pixels only: each frame weighs :data:`REFERENCE_BLEND` at the pixels its fit kept, and
    nothing at those it trimmed, so a moving object leaves no trail; a pixel trimmed
    :data:`ADOPT_AFTER` frames in a row is taken over from the frame (the place an object in
    the first frame has left, an object that came to rest). A frame whose fit is poor
    (:data:`GOOD_FIT`) is not blended in. Why a blend and not the first frame alone: a scene
    that changes (an object in the first frame walks away, a live camera turns) would leave
    fewer and fewer pixels of a fixed first frame matching. Why not the previous frame alone:
    its alignment error would pass to the next frame, and errors would add up into a drift.
    The blend averages that error out and stays in the first frame's units, since every frame
    blended in was aligned to it.

    Limits: when more of the sample moved than ``trim`` drops (counting the place where a
    moving object was in the reference), the fit is biased for those frames; it recovers once
    the motion is back within ``trim``. Raise ``trim`` for clips with big moving objects.

    A frame that cannot be fitted does not stop a clip: a flat frame (e.g. black) is only
    shifted onto the reference's mean; when the reference is flat, or the best scale is not
    positive (a cut to another scene), the frame is matched to the reference's mean and spread
    and becomes the new reference.

    Args:
        mode: one of :data:`MODES`; ``"per-frame"`` returns every frame unchanged.
        sample: number of pixels the fit uses (all of them when the frame is smaller), >= 2.
        trim: share of the sampled pixels dropped as outliers, in [0, 0.5]: above half, the
            moving part would be the majority.
        seed: seed of the pixel sample.

    Example:
        >>> a = Aligner()
        >>> d = np.arange(12, dtype=np.float32).reshape(3, 4)
        >>> first = a.align(d)  # the reference, unchanged
        >>> bool(np.allclose(a.align(2 * d + 1), d, atol=1e-5))
        True
    """

    def __init__(self, mode: str = "stable", *, sample: int = 4096, trim: float = 0.2, seed: int = 0) -> None:
        self.mode = _check_mode(mode)
        self.sample = check_int(sample, "sample", low=2, hint=": pass e.g. 4096 pixels.")
        self.trim = check_real(trim, "trim", low=0.0, high=0.5, hint=": pass e.g. 0.2 (20% of the sample).")
        self.seed = check_int(seed, "seed", low=0)
        self._shape: tuple[int, int] | None = None
        self._index: np.ndarray | None = None  # flat pixel indices of the sample
        self._reference: np.ndarray | None = None  # float64, the reference at the sampled pixels
        self._pairs: tuple[np.ndarray, np.ndarray] | None = None  # index pairs into the sample
        self._trimmed_for: np.ndarray | None = None  # per sample: frames in a row it was trimmed
        self._last_fit: ScaleShift | None = None

    @property
    def last_fit(self) -> ScaleShift | None:
        """The scale and shift applied to the last frame (identity for the first), None before any."""
        return self._last_fit

    def align(self, depth: np.ndarray) -> np.ndarray:
        """Align one frame's relative inverse depth to the clip's running reference.

        Args:
            depth: HxW relative inverse depth of the next frame; every frame of a clip has the
                same size. Non-finite pixels are left out of the fit and stay non-finite.

        Returns:
            HxW float32: ``scale * depth + shift`` in stable mode (the first frame as it is);
            in per-frame mode ``depth`` itself, as float32 (no copy when it already is).

        Raises:
            ValueError: ``depth`` is not HxW, or its size differs from the clip's first frame.
            TypeError: ``depth`` is not a real numeric array.
        """
        arr = _as_float32(depth)  # HxW float32
        if self.mode == "per-frame":
            return arr
        if self._shape is None:
            self._start(arr)
            return arr
        if arr.shape != self._shape:
            raise ValueError(
                f"depth has shape {arr.shape} but this clip's first frame had {self._shape}: "
                "use one Aligner per clip, and the same size for all its frames."
            )
        assert self._index is not None and self._reference is not None
        p = arr.reshape(-1)[self._index].astype(np.float64)  # sample float64
        fit, weight = self._robust_fit(p)
        aligned = arr * np.float32(fit.scale)  # HxW float32
        aligned += np.float32(fit.shift)
        self._blend(fit.apply(p), weight)
        self._last_fit = fit
        return aligned

    def _start(self, arr: np.ndarray) -> None:
        h, w = arr.shape
        n = h * w
        rng = np.random.default_rng(self.seed)
        if n <= self.sample:
            index = np.arange(n)
        else:
            index = np.sort(rng.choice(n, size=self.sample, replace=False))  # sorted: cache-friendly gather
        self._shape, self._index = (h, w), index
        self._reference = arr.reshape(-1)[index].astype(np.float64)
        self._pairs = (rng.integers(0, index.size, _PAIRS), rng.integers(0, index.size, _PAIRS))
        self._trimmed_for = np.zeros(index.size, dtype=np.int64)
        self._last_fit = ScaleShift(scale=1.0, shift=0.0)

    def _robust_fit(self, p: np.ndarray) -> tuple[ScaleShift, float | np.ndarray]:
        """Trimmed least squares of the sample onto the reference.

        Returns the fit and the weight of this frame in the reference: per sample (see
        :meth:`_weights`), 0 (a flat frame or a poor fit: left out) or 1 (the reference starts
        again).
        """
        ref = self._reference
        assert ref is not None
        valid = np.isfinite(p) & np.isfinite(ref)  # sample bool
        n = int(np.count_nonzero(valid))
        if n == 0:
            return ScaleShift(scale=1.0, shift=0.0), 0.0
        try:
            full = fit_scale_shift(p, ref, valid)
        except AlignmentError:
            return self._fallback(p, valid)
        keep_n = max(2, math.ceil((1.0 - self.trim) * n))
        if keep_n >= n:  # nothing to trim: plain least squares
            fit, keep = full, valid
        else:
            starts = [full, self._pair_slopes(p, valid), self._last_fit]
            tried = [self._trim_and_refit(p, valid, keep_n, s) for s in starts if s is not None and s.scale > 0]
            fit, keep, _ = min(tried, key=lambda t: t[2]) if tried else (full, valid, 0.0)
        if not fit.scale > 0.0:
            return self._fallback(p, valid)
        residual = fit.apply(p[keep]) - ref[keep]
        if float(np.sqrt(np.mean(residual**2))) > GOOD_FIT * float(ref[valid].std()):
            return fit, 0.0  # a poor fit (more moving than the trim): kept out of the reference
        return fit, self._weights(keep, valid)

    def _weights(self, keep: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Per-sample weights in the reference: kept, trimmed (0), trimmed too long (1)."""
        count = self._trimmed_for
        assert count is not None
        trimmed = valid & ~keep
        count[:] = np.where(trimmed, count + 1, 0)
        adopt = count >= ADOPT_AFTER
        count[adopt] = 0
        return np.where(keep, REFERENCE_BLEND, np.where(adopt, 1.0, 0.0))

    def _pair_slopes(self, p: np.ndarray, valid: np.ndarray) -> ScaleShift | None:
        """A robust start: the median slope over random pairs of samples (Theil-Sen style).

        Unlike least squares, it is not pulled by a near object covering a minority of the
        pixels, so the trimming starts close to the right fit.
        """
        assert self._pairs is not None and self._reference is not None
        i, j = self._pairs
        ref = self._reference
        dp = p[i] - p[j]
        ok = valid[i] & valid[j] & (dp != 0.0)
        if not ok.any():
            return None
        scale = float(np.median((ref[i][ok] - ref[j][ok]) / dp[ok]))
        if not scale > 0.0:
            return None
        return ScaleShift(scale=scale, shift=float(np.median(ref[valid] - scale * p[valid])))

    def _trim_and_refit(
        self, p: np.ndarray, valid: np.ndarray, keep_n: int, fit: ScaleShift
    ) -> tuple[ScaleShift, np.ndarray, float]:
        """From a start, keep the ``keep_n`` smallest residuals and refit until the kept set settles.

        Returns the fit, the kept samples, and their sum of squared residuals (the trimmed
        objective the starts are compared by).
        """
        ref = self._reference
        assert ref is not None
        keep = np.zeros(p.shape, dtype=bool)
        for _ in range(_MAX_REFITS):
            residual = np.abs(fit.apply(p) - ref)  # sample float64
            residual[~valid] = np.inf
            trimmed = np.zeros(p.shape, dtype=bool)
            trimmed[np.argpartition(residual, keep_n - 1)[:keep_n]] = True
            if np.array_equal(trimmed, keep):  # settled: the same samples as the last fit
                break
            try:
                refit = fit_scale_shift(p, ref, trimmed)
            except AlignmentError:  # the kept samples are flat: keep the last good fit
                break
            fit, keep = refit, trimmed
        if not keep.any():  # the first refit already failed: judge the start on its own
            keep = valid
        residual = fit.apply(p[keep]) - ref[keep]
        return fit, keep, float(np.dot(residual, residual))

    def _fallback(self, p: np.ndarray, valid: np.ndarray) -> tuple[ScaleShift, float]:
        """A fit for a frame least squares cannot align (flat frame, flat reference, scene cut)."""
        ref = self._reference
        assert ref is not None
        pv, rv = p[valid], ref[valid]
        p_std, r_std = float(pv.std()), float(rv.std())
        if not p_std > 0.0:  # a flat frame: only a shift is defined; it does not enter the reference
            return ScaleShift(scale=1.0, shift=float(rv.mean() - pv.mean())), 0.0
        if not r_std > 0.0:  # a flat reference: this frame starts a new one, in its own units
            return ScaleShift(scale=1.0, shift=0.0), 1.0
        scale = r_std / p_std  # a new scene: match mean and spread, and start the reference again
        return ScaleShift(scale=scale, shift=float(rv.mean() - scale * pv.mean())), 1.0

    def _blend(self, aligned: np.ndarray, weight: float | np.ndarray) -> None:
        ref = self._reference
        assert ref is not None
        if np.ndim(weight) == 0 and weight == 0.0:  # a frame left out of the reference
            return
        new_ok, ref_ok = np.isfinite(aligned), np.isfinite(ref)
        both = new_ok & ref_ok
        new, old = np.where(both, aligned, 0.0), np.where(both, ref, 0.0)  # no inf * 0 below
        blended = np.where(both, (1.0 - weight) * old + weight * new, ref)
        self._reference = np.where(new_ok & ~ref_ok, aligned, blended)


def clip_window(depths: Sequence[np.ndarray], percentiles: tuple[float, float] = (1.0, 99.0)) -> tuple[float, float]:
    """The display window fixed over a clip: percentiles of all its aligned frames' pixels together.

    Two passes over ``depths`` (the pooled finite range, then one histogram of
    :data:`core.maps.stats.PERCENTILE_BINS` bins over it, summed over the frames), so the
    memory does not grow with the clip; a lazy sequence is read twice. Each value is within
    one bin, ``(max - min) / 4096``, of ``np.percentile`` over all the pixels.

    Args:
        depths: the aligned frames (HxW each; sizes may differ), e.g. from :meth:`Aligner.align`.
        percentiles: (low, high) in [0, 100].

    Returns:
        ``(lo, hi)`` with ``lo <= hi``, in the aligned frames' units.

    Raises:
        ValueError: no frames, bad percentiles, or no finite value in any frame.

    Example:
        >>> clip_window([np.zeros((2, 2)), np.ones((2, 2))], (0.0, 100.0))
        (0.0, 1.0)
    """
    qs = _check_percentiles(percentiles)
    if len(depths) == 0:
        raise ValueError("depths is empty: pass the aligned frames of the clip (at least one).")
    lo, hi = math.inf, -math.inf
    for depth in depths:
        extent = histogram(depth, bins=1)  # its edges are the frame's finite min and max
        if extent.total:
            lo, hi = min(lo, float(extent.edges[0])), max(hi, float(extent.edges[-1]))
    if lo > hi:
        raise ValueError("no frame has a finite depth value: there is no window to show; check the predictions.")
    counts = np.zeros(PERCENTILE_BINS, dtype=np.int64)
    edges: np.ndarray | None = None
    for depth in depths:
        h = histogram(depth, bins=PERCENTILE_BINS, lo=lo, hi=hi)
        counts += h.counts
        edges = h.edges
    assert edges is not None
    low, high = DepthHistogram(counts=counts, edges=edges).percentiles(qs)
    return float(low), float(high)


class EmaWindow:
    """The display window of live mode: each frame's percentiles, followed slowly.

    ``window = (1 - alpha) * window + alpha * (this frame's percentiles)``, starting at the
    first frame's. With ``alpha = 0.1`` a sudden change is followed within about ten frames,
    so a near object passing through does not make the picture pump.

    Args:
        percentiles: (low, high) in [0, 100], histogram-based as in
            :func:`core.maps.stats.percentile_values`.
        alpha: weight of each new frame, in (0, 1]; 1 follows every frame at once.

    Example:
        >>> w = EmaWindow((0.0, 100.0), alpha=0.5)
        >>> w.update(np.array([[0.0, 2.0]])), w.update(np.array([[2.0, 4.0]]))
        ((0.0, 2.0), (1.0, 3.0))
    """

    def __init__(self, percentiles: tuple[float, float] = (1.0, 99.0), alpha: float = 0.1) -> None:
        self.percentiles = _check_percentiles(percentiles)
        self.alpha = check_real(alpha, "alpha", low=0.0, high=1.0, hint=": pass e.g. 0.1.")
        if self.alpha == 0.0:
            raise ValueError("alpha must be > 0 (0 would never follow the frames): pass e.g. 0.1.")
        self._window: tuple[float, float] | None = None

    @property
    def window(self) -> tuple[float, float] | None:
        """The current window, None before the first frame with a finite value."""
        return self._window

    def update(self, depth: np.ndarray) -> tuple[float, float]:
        """Blend one frame's percentiles into the window and return it.

        Args:
            depth: HxW aligned relative inverse depth of the next frame.

        Returns:
            ``(lo, hi)``, ``lo <= hi``. A frame with no finite value leaves the window as it
            was (``(0.0, 0.0)`` before any finite frame).
        """
        hist = histogram(depth, bins=PERCENTILE_BINS)
        if not hist.total:
            return self._window if self._window is not None else (0.0, 0.0)
        lo, hi = (float(v) for v in hist.percentiles(self.percentiles))
        if self._window is None:
            self._window = (lo, hi)
        else:
            a = self.alpha
            old_lo, old_hi = self._window
            self._window = ((1.0 - a) * old_lo + a * lo, (1.0 - a) * old_hi + a * hi)
        return self._window


def normalized(depth: np.ndarray, mode: str, window: tuple[float, float] | None) -> np.ndarray:
    """A frame normalised for display: near = 1, far = 0.

    Args:
        depth: HxW relative inverse depth (aligned, in stable mode).
        mode: one of :data:`MODES`. ``"per-frame"``: the frame's own min and max (``window``
            is ignored); ``"stable"``: ``window``, values outside it clipped.
        window: ``(lo, hi)`` from :func:`clip_window` or :meth:`EmaWindow.update`; needed in
            stable mode.

    Returns:
        HxW float32 in [0, 1], as :func:`core.maps.normalize.normalize` makes it.

    Raises:
        ValueError: an unknown mode, stable mode without a window, or a bad window.

    Example:
        >>> normalized(np.array([[0.0, 2.0, 4.0]]), "stable", (0.0, 2.0)).tolist()
        [[0.0, 1.0, 1.0]]
    """
    mode = _check_mode(mode)
    if mode == "per-frame":
        return normalize(depth)
    if window is None:
        raise ValueError(
            "stable mode needs a display window: pass clip_window(aligned frames) for a clip, "
            "or EmaWindow().update(aligned frame) live."
        )
    if len(window) != 2:
        raise ValueError(f"window must be a pair (lo, hi), got {window!r}.")
    lo, hi = window
    return normalize(depth, lo, hi)


def flicker(
    prev_norm: np.ndarray,
    norm: np.ndarray,
    prev_rgb: np.ndarray,
    rgb: np.ndarray,
    *,
    motion_threshold: float = MOTION_THRESHOLD,
) -> float | None:
    """How much the shown depth changes where the picture did not: lower is steadier.

    The mean of ``|norm - prev_norm|`` over the static pixels: those whose RGB changed by at
    most ``motion_threshold`` levels in every channel between the two frames. For a still
    camera this is pure flicker: nothing there moved, so its depth should not change.

    Args:
        prev_norm: HxW normalised map of the previous frame, in [0, 1].
        norm: HxW normalised map of this frame.
        prev_rgb: HxWx3 uint8 previous frame.
        rgb: HxWx3 uint8 this frame.
        motion_threshold: in 8-bit levels, >= 0; default :data:`MOTION_THRESHOLD` (8).

    Returns:
        The mean absolute change, in [0, 1] for maps in [0, 1]; None when no pixel is static.

    Raises:
        ValueError: shapes that are not HxW / HxWx3 of one size, or a negative threshold.
        TypeError: RGB frames that are not uint8.

    Example:
        >>> rgb = np.zeros((1, 2, 3), np.uint8)
        >>> flicker(np.array([[0.0, 0.5]]), np.array([[0.5, 0.5]]), rgb, rgb)
        0.25
    """
    a = _as_float32(prev_norm, "prev_norm")
    b = _as_float32(norm, "norm")
    threshold = check_real(motion_threshold, "motion_threshold", low=0.0, hint=": pass e.g. 8 levels.")
    for name, image in (("prev_rgb", prev_rgb), ("rgb", rgb)):
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
            got = getattr(image, "dtype", type(image).__name__)
            raise TypeError(f"{name} must be an HxWx3 uint8 array, got {got}.")
        if image.shape != a.shape + (3,):
            raise ValueError(f"{name} has shape {image.shape}, expected {a.shape + (3,)} to match prev_norm.")
    if b.shape != a.shape:
        raise ValueError(f"norm has shape {b.shape} but prev_norm has {a.shape}; they must match.")
    change = cv2.absdiff(np.ascontiguousarray(prev_rgb), np.ascontiguousarray(rgb))  # HxWx3 uint8
    top = min(255, math.floor(threshold))  # whole levels: a change <= 8.5 is a change <= 8
    static = cv2.inRange(change, (0, 0, 0), (top, top, top))  # HxW uint8, 255 where every channel is within
    if not cv2.countNonZero(static):
        return None
    return float(cv2.mean(cv2.absdiff(a, b), mask=static)[0])  # summed in float64
