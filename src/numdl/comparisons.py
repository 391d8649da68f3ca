"""Implementations side by side, measured against the exact reference.

Chapter 4 puts the textbook formula, the usual max-shift fix and numdl's
function next to the exact answer, and sweeps an input family to plot the error
in ULPs (Herbie-style).  This module does the measuring; the notebook only
draws.  Every error is :func:`numdl.reference.ulp_error` against the
correctly rounded exact value: 0 means the correctly rounded answer, 1 the float next to
it, and so on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from numdl import naive, stable
from numdl.floats import as_dtype

__all__ = [
    "FUNCTIONS",
    "PRESETS",
    "Comparison",
    "compare",
    "cross_entropy_margin_sweep",
    "error_sweep",
    "preset_input",
]


def _log_softmax_max_shift(x: np.ndarray) -> np.ndarray:
    # The seed's version: x - max - log(sum(exp(x - max))), in the input's dtype.
    return x - naive.logsumexp_max_shift(x, axis=-1)


# kind -> implementation name -> function of a 1-D array
FUNCTIONS: dict[str, dict[str, Callable[[np.ndarray], np.ndarray]]] = {
    "logsumexp": {
        "naive": lambda x: naive.logsumexp(x, axis=-1),
        "max-shift": lambda x: naive.logsumexp_max_shift(x, axis=-1),
        "numdl": lambda x: stable.logsumexp(x, axis=-1),
    },
    "softmax": {
        "naive": lambda x: naive.softmax(x, axis=-1),
        "max-shift": lambda x: naive.softmax_max_shift(x, axis=-1),
        "numdl": lambda x: stable.softmax(x, axis=-1),
    },
    "log_softmax": {
        "naive": lambda x: naive.log_softmax(x, axis=-1),
        "max-shift": _log_softmax_max_shift,
        "numdl": lambda x: stable.log_softmax(x, axis=-1),
    },
}

PRESETS = ("equal large", "very negative", "one dominant", "confident class", "random")


def preset_input(preset: str, magnitude: float, n: int = 4, dtype="float64", *,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """A 1-D input of one family, scaled by ``magnitude``.

    - "equal large": [m, m, ..., m]; the exact softmax is uniform.
    - "very negative": [-m, -m - 1, ...]; every exp underflows once m is large.
    - "one dominant": [m, m - 40, m - 80, ...]; one term carries the sum.
    - "confident class": [m, 0, 0, ...]; the top class's log-probability is about
      -(n - 1) e^(-m): tiny but not 0.
    - "random": m times standard normal numbers (``rng`` or a fixed seed).
    """
    if n < 1:
        raise ValueError(f"n={n!r} must be positive")
    k = np.arange(n, dtype=np.float64)
    if preset == "equal large":
        x = np.full(n, float(magnitude))
    elif preset == "very negative":
        x = -float(magnitude) - k
    elif preset == "one dominant":
        x = float(magnitude) - 40.0 * k
    elif preset == "confident class":
        x = np.zeros(n)
        x[0] = float(magnitude)
    elif preset == "random":
        x = float(magnitude) * (rng or np.random.default_rng(0)).standard_normal(n)
    else:
        raise ValueError(f"preset={preset!r}; choose one of {', '.join(PRESETS)}")
    return x.astype(as_dtype(dtype))


@dataclass(frozen=True)
class Comparison:
    """Each implementation's output and its worst error in ULPs, beside the exact value."""

    kind: str
    x: np.ndarray
    exact: np.ndarray  # correctly rounded to x's dtype
    outputs: dict[str, np.ndarray]
    ulp_errors: dict[str, float]  # worst element; inf where a finite answer became nan/inf


def _reference(kind: str):
    from numdl import reference

    return {"logsumexp": lambda x: reference.logsumexp(x, axis=-1),
            "softmax": lambda x: reference.softmax(x, axis=-1),
            "log_softmax": lambda x: reference.log_softmax(x, axis=-1)}[kind]


def compare(kind: str, x) -> Comparison:
    """Run every implementation of ``kind`` on the 1-D input ``x`` and measure it."""
    from numdl.reference import ulp_error

    if kind not in FUNCTIONS:
        raise ValueError(f"kind={kind!r}; choose one of {', '.join(FUNCTIONS)}")
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D, got shape {x.shape}")
    exact = np.asarray(_reference(kind)(x))
    outputs, errors = {}, {}
    for name, fn in FUNCTIONS[kind].items():
        with np.errstate(all="ignore"):
            out = np.asarray(fn(x))
        outputs[name] = out
        err = np.asarray(ulp_error(out.astype(x.dtype), exact), dtype=np.float64)
        errors[name] = float(np.max(err)) if err.size else 0.0
    return Comparison(kind, x, exact, outputs, errors)


def error_sweep(kind: str, preset: str, magnitudes, n: int = 4, dtype="float64") -> dict[str, np.ndarray]:
    """Worst ULP error of each implementation across ``magnitudes`` of one input family."""
    magnitudes = np.asarray(magnitudes, dtype=np.float64)
    out = {name: np.empty(len(magnitudes)) for name in FUNCTIONS[kind]}
    for i, m in enumerate(magnitudes):
        c = compare(kind, preset_input(preset, m, n, dtype))
        for name, e in c.ulp_errors.items():
            out[name][i] = e
    out["magnitude"] = magnitudes
    return out


def _max_shift_cross_entropy(logits: np.ndarray, target: np.ndarray) -> np.ndarray:
    # logsumexp(z) - z_t with the usual max-shift: per-example losses.
    lse = naive.logsumexp_max_shift(logits, axis=-1)
    return lse - np.take_along_axis(logits, target[:, None], axis=-1)[:, 0]


def _naive_ce_per_example(logits: np.ndarray, target: np.ndarray) -> np.ndarray:
    p = naive.softmax(logits, axis=-1)
    with np.errstate(all="ignore"):
        return -np.log(np.take_along_axis(p, target[:, None], axis=-1)[:, 0])


def cross_entropy_margin_sweep(margins, n_classes: int = 10, dtype="float64") -> dict[str, np.ndarray]:
    """Per-example cross-entropy when the true class leads every other logit by ``margin``.

    Logits are [margin, 0, ..., 0] with target 0: the exact loss is
    log(1 + (n - 1) e^(-margin)), tiny but nonzero for a large margin and about
    |margin| for a large negative one.  Returns the loss of each implementation
    (``naive``: from probabilities; ``max-shift``; ``numdl``), the exact loss and
    each implementation's error in ULPs.
    """
    from numdl import reference
    from numdl.losses import cross_entropy
    from numdl.reference import ulp_error

    dt = as_dtype(dtype)
    margins = np.asarray(margins, dtype=np.float64)
    logits = np.zeros((len(margins), n_classes))
    logits[:, 0] = margins
    logits = logits.astype(dt)
    target = np.zeros(len(margins), dtype=np.int64)
    exact = np.asarray(reference.cross_entropy(logits, target, reduction="none"))
    with np.errstate(all="ignore"):
        losses = {
            "naive": _naive_ce_per_example(logits, target).astype(dt),
            "max-shift": _max_shift_cross_entropy(logits, target).astype(dt),
            "numdl": np.asarray(cross_entropy(logits, target, reduction="none")),
        }
    out: dict[str, np.ndarray] = {"margin": margins, "exact": exact.astype(np.float64)}
    for name, loss in losses.items():
        out[name] = loss.astype(np.float64)
        out[name + " ulp"] = np.asarray(ulp_error(loss, exact), dtype=np.float64)
    return out
