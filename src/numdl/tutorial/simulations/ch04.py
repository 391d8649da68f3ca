"""Chapter 4 (softmax, log-sum-exp and the log domain): implementations side by side, in ULPs.

The chapter puts the textbook formula, the usual max-shift fix and numdl's function next to the
exact answer (:func:`compare`), and sweeps an input family (:data:`PRESETS`,
:func:`preset_input`) to plot the error in ULPs, Herbie-style (:func:`error_sweep`).  Every
error is :func:`numdl.reference.ulp_error` against the correctly rounded exact value: 0 means
the correctly rounded answer, 1 the float next to it, and so on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from numdl import naive, reference, stable
from numdl.floats import as_dtype
from numdl.reference import ulp_error
from numdl.tutorial.simulations._common import check_rng

__all__ = [
    "FUNCTIONS",
    "PRESETS",
    "Comparison",
    "compare",
    "error_sweep",
    "preset_input",
]


def _log_softmax_max_shift(x: np.ndarray) -> np.ndarray:
    # The usual version: x - max - log(sum(exp(x - max))), in the input's dtype.
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

_REFERENCE: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "logsumexp": lambda x: reference.logsumexp(x, axis=-1),
    "softmax": lambda x: reference.softmax(x, axis=-1),
    "log_softmax": lambda x: reference.log_softmax(x, axis=-1),
}

PRESETS = ("equal large", "very negative", "one dominant", "confident class", "random")


def _check_preset(preset: str, n: int, rng: np.random.Generator | None) -> None:
    if preset not in PRESETS:
        raise ValueError(f"preset={preset!r}; choose one of {', '.join(PRESETS)}")
    if n < 1:
        raise ValueError(f"n={n!r} must be positive")
    if rng is not None or preset == "random":
        check_rng(rng)


def _preset(preset: str, magnitude: float, n: int, direction: np.ndarray | None,
            dt: np.dtype) -> np.ndarray:
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
    else:  # "random"
        x = float(magnitude) * direction
    return x.astype(dt)


def preset_input(preset: str, magnitude: float, n: int = 4, dtype: DTypeLike = "float64", *,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """A 1-D input of one family, scaled by ``magnitude``, in ``dtype``.

    - "equal large": [m, m, ..., m]; the exact softmax is uniform.
    - "very negative": [-m, -m - 1, ...]; every exp underflows once m is large.
    - "one dominant": [m, m - 40, m - 80, ...]; one term carries the sum.
    - "confident class": [m, 0, 0, ...]; the top class's log-probability is about
      -(n - 1) e^(-m): tiny but not 0.
    - "random": m times ``n`` standard normal numbers drawn from ``rng`` (required for this
      family only; the others draw nothing).
    """
    _check_preset(preset, n, rng)
    direction = rng.standard_normal(n) if preset == "random" else None
    return _preset(preset, magnitude, n, direction, as_dtype(dtype))


@dataclass(frozen=True)
class Comparison:
    """Each implementation's output and its worst error in ULPs, beside the exact value."""

    kind: str
    x: np.ndarray
    exact: np.ndarray  # correctly rounded to x's dtype
    outputs: dict[str, np.ndarray]
    ulp_errors: dict[str, float]  # worst element; inf where a finite answer became nan/inf


def _check_kind(kind: str) -> None:
    if kind not in FUNCTIONS:
        raise ValueError(f"kind={kind!r}; choose one of {', '.join(FUNCTIONS)}")


def compare(kind: str, x: ArrayLike) -> Comparison:
    """Run every implementation of ``kind`` (a key of :data:`FUNCTIONS`) on the 1-D input ``x``
    and measure it against the exact value."""
    _check_kind(kind)
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D, got shape {x.shape}")
    exact = np.asarray(_REFERENCE[kind](x))
    outputs, errors = {}, {}
    for name, fn in FUNCTIONS[kind].items():
        with np.errstate(all="ignore"):
            out = np.asarray(fn(x))
        outputs[name] = out
        err = np.asarray(ulp_error(out.astype(x.dtype), exact), dtype=np.float64)
        errors[name] = float(np.max(err)) if err.size else 0.0
    return Comparison(kind, x, exact, outputs, errors)


def error_sweep(kind: str, preset: str, magnitudes: ArrayLike, n: int = 4,
                dtype: DTypeLike = "float64", *,
                rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
    """Worst ULP error of each implementation across ``magnitudes`` of one input family.

    For the "random" family one direction is drawn from ``rng`` and scaled by every magnitude,
    so the sweep varies the scale alone (``preset_input`` at each magnitude with a generator in
    the same state gives the same inputs).  Returns ``{implementation: errors, "magnitude": ...}``.
    """
    _check_kind(kind)
    _check_preset(preset, n, rng)
    dt = as_dtype(dtype)
    direction = rng.standard_normal(n) if preset == "random" else None
    magnitudes = np.asarray(magnitudes, dtype=np.float64)
    out = {name: np.empty(len(magnitudes)) for name in FUNCTIONS[kind]}
    for i, m in enumerate(magnitudes):
        c = compare(kind, _preset(preset, m, n, direction, dt))
        for name, e in c.ulp_errors.items():
            out[name][i] = e
    out["magnitude"] = magnitudes
    return out
