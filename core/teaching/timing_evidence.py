"""Whether a timing difference is evidence: compare two settings' passes, or say why not.

A CPU tip ("lower the resolution", "use every core") is tested by timing two settings
that differ in one thing. Two medians always differ; the question is whether they differ
by more than the run-to-run noise, and whether the machine gave both settings the same
CPU. :func:`compare` draws a conclusion only when

- each setting has at least :data:`MIN_STEADY_PASSES` passes after its warm-up;
- their ranges (fastest to slowest pass) do not overlap. If both settings were equally
  fast, ranges of n and m passes would be fully apart by chance with probability
  ``2 / C(n + m, n)`` (:func:`separation_chance`): 0.8 % for 5 and 5, 0.2 % for 6 and 6;
- other programs left each setting the cores it asked for (:func:`contention`).

Otherwise it says "inconclusive on this run: …" with every reason. The wording puts the
tip's advice first, the way it is tested: "N = 256 against N = 512", "2 threads against 1".

Example:
    >>> from core.teaching.timing import STAGES, StageTimes
    >>> def passes(ms, threads=2):
    ...     return [StageTimes(dict.fromkeys(STAGES, s / 5000), 256, (192, 256), threads, "torch", 0.0, 0.0)
    ...             for s in ms]
    >>> v = compare(passes([400, 100, 101, 99, 102, 100]), passes([900, 300, 310, 305, 298, 302]),
    ...             subject_name="N = 256", reference_name="N = 512", cores=2)
    >>> v.conclusive, v.text.split(":")[0], f"{v.ratio:.2f}"
    (True, 'N = 256 against N = 512', '3.02')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import comb

from core.teaching.timing import STAGES, StageTimes, Spread, available_backends, steady_spread, summarize_runs

__all__ = [
    "BUSY_MARGIN",
    "DEFAULT_PASSES",
    "MIN_STEADY_PASSES",
    "Tip",
    "Verdict",
    "compare",
    "contention",
    "cpu_tips",
    "separation_chance",
    "threads_name",
]

#: Fewest passes after the warm-up, per setting, before ranges that do not overlap count:
#: apart by chance in 2 / C(10, 5) = 0.8 % of runs when nothing differs.
MIN_STEADY_PASSES = 5
#: Passes per setting the pages run by default: a warm-up and 6 more (0.2 % by chance).
DEFAULT_PASSES = 7
#: Cores that other programs may take beyond the ones a setting leaves free before the
#: setting counts as having shared its cores (a quarter of a core: the browser redrawing
#: a progress bar stays under it; another inference does not).
BUSY_MARGIN = 0.25

Setting = tuple[int, int, str]  # (network size N, threads, backend)


def separation_chance(n: int, m: int) -> float:
    """Chance that ranges of ``n`` and ``m`` passes of the same speed are fully apart.

    With every ordering of the n + m passes equally likely, the ranges do not overlap
    only when all n come before all m, or after: 2 of the C(n + m, n) orderings.

    Example:
        >>> round(separation_chance(6, 6), 4), round(separation_chance(2, 2), 3)
        (0.0022, 0.333)
    """
    if n < 1 or m < 1:
        raise ValueError(f"need at least one pass on each side, got n={n}, m={m}")
    return 2.0 / comb(n + m, n)


def threads_name(threads: int) -> str:
    """``"1 thread"``, ``"2 threads"``.

    Example:
        >>> threads_name(1), threads_name(4)
        ('1 thread', '4 threads')
    """
    return f"{threads} thread{'s' if threads != 1 else ''}"


def contention(runs: Sequence[StageTimes], cores: int, name: str = "it") -> str:
    """Why the machine did not leave these passes the cores they asked for, or ``""``.

    A setting with t threads on c cores is disturbed when other programs took, on average
    over its passes after the warm-up, more than the c - t cores it left free, plus
    :data:`BUSY_MARGIN`.

    Args:
        runs: one setting's passes, in order.
        cores: CPUs the passes could run on (:func:`core.teaching.timing.cpu_cores`), >= 1.
        name: what to call the setting in the reason.

    Returns:
        The reason, e.g. "other programs used 0.92 of 2 cores on average while N = 512
        ran with 2 threads", or ``""`` when it was not disturbed or the OS does not say.

    Example:
        >>> from core.teaching.timing import STAGES, StageTimes
        >>> busy = [StageTimes(dict.fromkeys(STAGES, 0.02), 256, (192, 256), 2, "torch", 0.1, 0.15)] * 3
        >>> contention(busy, cores=2, name="N = 256")
        'other programs used 0.50 of 2 cores on average while N = 256 ran with 2 threads'
    """
    if cores < 1:
        raise ValueError(f"cores must be >= 1, got {cores}")
    summary = summarize_runs(runs)
    other = summary.other_cores
    if other is None or other <= max(0, cores - summary.threads) + BUSY_MARGIN:
        return ""
    threads = threads_name(summary.threads)
    return (f"other programs used {other:.2f} of {cores} cores on average while {name} ran"
            + ("" if name == threads else f" with {threads}"))


@dataclass(frozen=True)
class Verdict:
    """The outcome of timing one setting against another.

    Attributes:
        conclusive: True when the ranges are apart, with enough passes, on a machine
            that left both settings their cores.
        text: one sentence for the user, starting "<subject> against <reference>: ".
        ratio: the reference's median over the subject's (> 1: the subject is faster).
        reasons: why it is inconclusive (empty when conclusive).
        subject: spread of the subject's passes after the warm-up (seconds).
        reference: the same for the reference.
    """

    conclusive: bool
    text: str
    ratio: float
    reasons: tuple[str, ...]
    subject: Spread
    reference: Spread


def _ms(s: Spread) -> str:
    return f"{s.median * 1000:.0f} ms ({s.low * 1000:.0f}–{s.high * 1000:.0f})"


def compare(
    subject: Sequence[StageTimes],
    reference: Sequence[StageTimes],
    *,
    subject_name: str,
    reference_name: str,
    cores: int,
    stage: str | None = None,
) -> Verdict:
    """Time ``subject`` against ``reference``: a conclusion, or "inconclusive on this run: …".

    Args:
        subject: passes of the setting the tip recommends (e.g. N = 256), first = warm-up.
        reference: passes of the setting it is tested against (e.g. N = 512).
        subject_name: e.g. "N = 256".
        reference_name: e.g. "N = 512".
        cores: CPUs the passes could run on, >= 1.
        stage: compare this stage of :data:`core.teaching.timing.STAGES`, or None for whole passes.

    Returns:
        The verdict. Its text gives the medians and ranges (fastest–slowest) in either case.

    Raises:
        ValueError: a side has no passes, an unknown stage, or ``cores`` < 1.
    """
    if not subject or not reference:
        raise ValueError(f"both sides need passes, got {len(subject)} and {len(reference)}")
    if stage is not None and stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)} or None, got {stage!r}")
    a, b = steady_spread(subject, stage), steady_spread(reference, stage)
    ratio = b.median / a.median if a.median > 0 else float("inf")
    what = "per pass" if stage is None else f"of {stage}"
    figures = f"{_ms(a)} against {_ms(b)} {what}, median (fastest–slowest) of {a.n} and {b.n} passes after the warm-up"
    reasons = []
    fewest = min(a.n, b.n)
    if fewest < MIN_STEADY_PASSES:
        reasons.append(f"only {fewest} pass{'es' if fewest != 1 else ''} after the warm-up, and at least "
                       f"{MIN_STEADY_PASSES} per setting are needed to tell a difference from noise")
    for runs, name in ((subject, subject_name), (reference, reference_name)):
        busy = contention(runs, cores, name)
        if busy:
            reasons.append(busy)
    if a.overlaps(b):
        reasons.append("the ranges overlap")
    head = f"{subject_name} against {reference_name}"
    if reasons:
        text = (f"{head}: inconclusive on this run: {'; '.join(reasons)}. {figures}. "
                "Run it again when the machine is quieter, or with more passes.")
    else:
        word = "faster" if ratio >= 1 else "slower"
        text = f"{head}: {max(ratio, 1 / ratio):.2f}× {word}, {figures}; the ranges do not overlap."
    unknown = summarize_runs(subject).other_cores is None or summarize_runs(reference).other_cores is None
    if unknown:
        text += " Other programs' CPU use is not measured on this system, so a busy machine would go unnoticed."
    return Verdict(conclusive=not reasons, text=text, ratio=ratio, reasons=tuple(reasons), subject=a, reference=b)


@dataclass(frozen=True)
class Tip:
    """One CPU tip and what the measurements say about it.

    Attributes:
        title: the advice, e.g. "Lower the resolution."
        verdict: the comparison that tests it, or None when it was not measured.
        note: what to do to test it, when ``verdict`` is None.
    """

    title: str
    verdict: Verdict | None = None
    note: str = ""


def cpu_tips(
    measured: Mapping[Setting, Sequence[StageTimes]], cores: int, backends: Sequence[str] | None = None
) -> list[Tip]:
    """Test the three CPU tips on measured settings, each change against the baseline.

    The baseline is the smallest N with the most threads on the first backend measured
    (the setting the Performance Lab measures first). Each tip's advice is the subject:
    the smaller N against each larger one, the most threads against each fewer count, a
    compiled backend against torch.

    Args:
        measured: (N, threads, backend) -> its passes, in the order they were measured.
        cores: CPUs the passes could run on, >= 1.
        backends: backends this build can time (default :func:`core.teaching.timing.available_backends`).

    Returns:
        One tip per comparison that was measured, or per tip with a note on how to test it.

    Example:
        >>> [t.title for t in cpu_tips({}, cores=2, backends=["torch"])]
        ['Lower the resolution.', 'Use every core.', 'Script / compile the model.']
    """
    backends = list(available_backends() if backends is None else backends)
    tips: list[Tip] = []
    if not measured:
        n, t, b = 0, 0, ""
    else:
        keys = list(measured)
        n, t, b = min(k[0] for k in keys), max(k[1] for k in keys), keys[0][2]
        if (n, t, b) not in measured:
            n, t, b = keys[0]

    def versus(subject: Setting, reference: Setting, subject_name: str, reference_name: str) -> Verdict:
        return compare(measured[subject], measured[reference], subject_name=subject_name,
                       reference_name=reference_name, cores=cores)

    sizes = sorted({k[0] for k in measured if (k[1], k[2]) == (t, b) and k[0] != n})
    for other in sizes:
        tips.append(Tip("Lower the resolution.", versus((n, t, b), (other, t, b), f"N = {n}", f"N = {other}")))
    if not sizes:
        tips.append(Tip("Lower the resolution.", note="pick at least two network sizes to test it."))
    fewer = sorted({k[1] for k in measured if (k[0], k[2]) == (n, b) and k[1] != t}, reverse=True)
    for other in fewer:
        tips.append(Tip("Use every core.", versus((n, t, b), (n, other, b), threads_name(t), threads_name(other))))
    if not fewer:
        tips.append(Tip("Use every core.", note="pick at least two thread counts to test it."))
    others = [k[2] for k in measured if (k[0], k[1]) == (n, t) and k[2] != b]
    for other in others:
        compiled, plain = (b, other) if other == "torch" else (other, b)
        tips.append(Tip(f"Script / compile the model ({compiled} backend).",
                        versus((n, t, compiled), (n, t, plain), compiled, plain)))
    if not others:
        note = ("not testable in this build: only the plain `torch` backend is available here (install OpenVINO "
                "for the compiled `fast` one). The claim is not asserted." if len(backends) < 2 else
                "pick the `fast` backend (OpenVINO, compiled) as well to test it.")
        tips.append(Tip("Script / compile the model.", note=note))
    return tips
